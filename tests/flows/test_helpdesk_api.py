"""The helpdesk API over HTTP, with real slapd logins of the demo's joint people: merging
keeps the survivor's sub while the absorbed one keeps working as an alias, unlinking gives a
new sub, organization-scoped roles, every error code, one audit event per change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.audit import AuditEvent
from tests.flows.conftest import RP1, RP2, SERVICE, client_table, make_settings
from tests.flows.test_code_flow import verify_id_token
from tests.support.oidc_client import RelyingParty, sign_in
from tests.support.tokens import client_credentials, refresh, revoke

HELPDESK = ("helpdesk", "helpdesk-secret-0123456789")
HELPDESK_TPU = ("helpdesk-tpu", "helpdesk-tpu-secret-0123456789")
HELPDESK_JWT = ("helpdesk-jwt", "helpdesk-jwt-secret-0123456789")
OFFLINE = "openid profile email campus offline_access"


def helpdesk_clients() -> dict[str, Any]:
    def service(secret: str, roles: list[str], **extra: Any) -> dict[str, Any]:
        return {"name": "Helpdesk", "client_secret": secret, "grant_types": ["client_credentials"],
                "scopes": [], "roles": roles, **extra}

    return {**client_table(),
            HELPDESK[0]: service(HELPDESK[1], ["helpdesk"]),
            HELPDESK_TPU[0]: service(HELPDESK_TPU[1], ["helpdesk:tpu"]),
            HELPDESK_JWT[0]: service(HELPDESK_JWT[1], ["helpdesk:tsu", "helpdesk:tpu"],
                                     access_token_format="jwt")}


def provider(database_url: str, directories: dict[str, SlapdServer], *, rules: bool) -> Flask:
    extra: dict[str, Any] = {"clients": helpdesk_clients(),
                             "linking": {"primary_precedence": ["tsu", "tpu"]}}
    if rules:
        extra["linking"]["rules"] = people.LINKING_RULES
    return create_app(make_settings(database_url, directories, **extra))


@pytest.fixture
def database(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def app(database: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """No linking rules: every account's first login makes an identity of its own."""
    app = provider(database, directories, rules=False)
    yield app
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def token_of(api: FlaskClient, client: tuple[str, str]) -> str:
    response = client_credentials(api, client)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def call(api: FlaskClient, method: str, path: str, token: str | None, **kwargs: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)


def log_in(app: Flask, org: str, username: str, rp: RelyingParty = RP1,
           consent: str | None = "allow") -> dict[str, Any]:
    """A fresh browser logs in; the tokens, with the verified ID token's claims."""
    browser = app.test_client()
    password = people.organization(org).person(username).password
    result = sign_in(browser, rp, username, password, organization=org, scope=OFFLINE,
                     consent=consent)
    tokens = rp.token(browser, result["code"]).json
    alg = "ES256" if rp is RP2 else "RS256"
    claims = verify_id_token(browser, rp, tokens["id_token"], result["_nonce"], tokens["access_token"],
                             alg)
    return {**tokens, "claims": claims}


def audit_count(app: Flask) -> int:
    with app.extensions["campus_id"].sessions() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_link_merges_and_the_absorbed_sub_keeps_working(app: Flask, api: FlaskClient) -> None:
    survivor = log_in(app, "tpu", "vzhukov", rp=RP2)["claims"]
    absorbed = log_in(app, "tsu", "viktor.zhukov")  # consents to RP1, gets a refresh token
    old_sub, sub = absorbed["claims"]["sub"], survivor["sub"]
    assert old_sub != sub
    token = token_of(api, HELPDESK)
    before = audit_count(app)

    linked = call(api, "POST", f"/identities/{sub}/accounts", token,
                  json={"account": "tsu:viktor.zhukov", "reason": "one person, ticket 4711"})
    assert linked.status_code == 200, linked.json
    assert audit_count(app) == before + 1
    assert linked.json["sub"] == sub and linked.json["merged_sub"] == old_sub
    assert linked.json["aliases"] == [old_sub]
    assert [a["account"] for a in linked.json["accounts"]] == ["tpu:vzhukov", "tsu:viktor.zhukov"]
    assert linked.json["primary_account"] == "tsu:viktor.zhukov"  # primary_precedence: tsu first
    assert "no-store" in linked.headers["Cache-Control"]

    shown = call(api, "GET", f"/identities/{old_sub}", token)
    assert shown.status_code == 200
    assert shown.json["sub"] == sub and shown.json["resolved_from_alias"] == old_sub

    # The refresh token issued under the absorbed sub keeps working, for the survivor's sub.
    refreshed = refresh(api, (RP1.client_id, RP1.secret), absorbed["refresh_token"])
    assert refreshed.status_code == 200, refreshed.json
    assert refreshed.json["access_token"]
    info = api.get("/userinfo", headers={"Authorization": f"Bearer {refreshed.json['access_token']}"})
    assert info.json["sub"] == sub and info.json["organizations"] == ["tpu", "tsu"]
    assert info.json["preferred_username"] == "viktor.zhukov@tsu.ru"  # primary_precedence
    # The consent given under the absorbed sub still holds: no consent screen at RP1.
    again = log_in(app, "tsu", "viktor.zhukov", consent=None)["claims"]
    assert again["sub"] == sub and again["campus_id"] == survivor["campus_id"]
    assert log_in(app, "tpu", "vzhukov", consent=None)["claims"]["sub"] == sub

    trail = call(api, "GET", f"/audit?sub={old_sub}", token).json["items"]
    assert [e["id"] for e in trail] == sorted((e["id"] for e in trail), reverse=True)
    [merged] = [e for e in trail if e["type"] == "identity.merged"]
    assert merged["actor"] == "client:helpdesk"
    assert merged["details"]["reason"] == "one person, ticket 4711"
    created = [e["details"]["sub"] for e in trail if e["type"] == "identity.created"]
    assert sorted(created) == sorted([sub, old_sub])  # the absorbed identity's history too
    found = call(api, "GET", f"/identities?q={old_sub}", token).json
    assert [i["sub"] for i in found["items"]] == [sub] and found["next_cursor"] is None


def test_unlink_gives_a_new_sub_and_the_last_account_stays(app: Flask, api: FlaskClient) -> None:
    sub = log_in(app, "tpu", "vzhukov")["claims"]["sub"]
    log_in(app, "tsu", "viktor.zhukov")
    token = token_of(api, HELPDESK)
    call(api, "POST", f"/identities/{sub}/accounts", token,
         json={"account": "tsu:viktor.zhukov", "reason": "ticket 1"})
    before = audit_count(app)

    unlinked = call(api, "DELETE", f"/identities/{sub}/accounts/tsu:viktor.zhukov", token,
                    query_string={"reason": "linked by mistake"})
    assert unlinked.status_code == 200, unlinked.json
    assert audit_count(app) == before + 1
    new_sub = unlinked.json["new_identity"]["sub"]
    assert unlinked.json["identity"]["sub"] == sub != new_sub
    assert [a["account"] for a in unlinked.json["new_identity"]["accounts"]] == ["tsu:viktor.zhukov"]
    assert log_in(app, "tsu", "viktor.zhukov")["claims"]["sub"] == new_sub
    assert log_in(app, "tpu", "vzhukov", consent=None)["claims"]["sub"] == sub

    last = call(api, "DELETE", f"/identities/{new_sub}/accounts/tsu:viktor.zhukov", token,
                json={"reason": "try"})
    assert last.status_code == 409 and last.json["error"] == "conflict"
    trail = call(api, "GET", f"/audit?sub={new_sub}", token).json["items"]
    [unlinked_event] = [e for e in trail if e["type"] == "account.unlinked"]
    assert unlinked_event["details"]["reason"] == "linked by mistake"
    assert unlinked_event["actor"] == "client:helpdesk"


def test_an_organization_scoped_helpdesk_acts_only_on_its_people(app: Flask, api: FlaskClient) -> None:
    tpu_sub = log_in(app, "tpu", "tgaliev")["claims"]["sub"]
    tsu_sub = log_in(app, "tsu", "alena.elkina")["claims"]["sub"]
    token = token_of(api, HELPDESK_TPU)
    before = audit_count(app)

    assert call(api, "GET", f"/identities/{tpu_sub}", token).status_code == 200
    refused = call(api, "GET", f"/identities/{tsu_sub}", token)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert call(api, "GET", f"/audit?sub={tsu_sub}", token).status_code == 403
    assert call(api, "GET", "/identities?q=alena.elkina", token).json["items"] == []
    merge = call(api, "POST", f"/identities/{tpu_sub}/accounts", token,
                 json={"account": "tsu:alena.elkina", "reason": "needs tsu too"})
    assert merge.status_code == 403
    assert audit_count(app) == before
    # A token of a client with roles at both organizations (a JWT access token) may.
    both = token_of(api, HELPDESK_JWT)
    assert both.count(".") == 2
    done = call(api, "POST", f"/identities/{tpu_sub}/accounts", both,
                json={"account": "tsu:alena.elkina", "reason": "test of scope"})
    assert done.status_code == 200, done.json


def error_of(response: TestResponse, status: int, error: str) -> None:
    assert response.status_code == status, (response.status_code, response.json)
    assert set(response.json) == {"error", "message"} and response.json["error"] == error
    assert response.json["message"]


def test_every_error_answers_json_and_changes_nothing(app: Flask, api: FlaskClient) -> None:
    sub = log_in(app, "tpu", "vzhukov")["claims"]["sub"]
    log_in(app, "tsu", "viktor.zhukov")
    token = token_of(api, HELPDESK)

    missing = call(api, "GET", f"/identities/{sub}", None)
    error_of(missing, 401, "invalid_token")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="campus-id"'
    wrong = call(api, "GET", f"/identities/{sub}", "not-a-token")
    error_of(wrong, 401, "invalid_token")
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    revoked = token_of(api, HELPDESK)
    assert revoke(api, HELPDESK, revoked).status_code == 200
    error_of(call(api, "GET", f"/identities/{sub}", revoked), 401, "invalid_token")
    personal = log_in(app, "tpu", "vzhukov", consent=None)["access_token"]
    error_of(call(api, "GET", f"/identities/{sub}", personal), 401, "invalid_token")
    error_of(call(api, "GET", f"/identities/{sub}", token_of(api, SERVICE)), 403, "forbidden")

    before = audit_count(app)
    link = f"/identities/{sub}/accounts"
    error_of(call(api, "POST", link, token, data="not json", content_type="application/json"),
             400, "invalid_request")
    error_of(call(api, "POST", link, token, json=["a list"]), 400, "invalid_request")
    error_of(call(api, "POST", link, token, json={"account": "tsu:viktor.zhukov"}), 422, "invalid_input")
    error_of(call(api, "POST", link, token, json={"account": "tsu:viktor.zhukov", "reason": " "}),
             422, "invalid_input")
    error_of(call(api, "POST", link, token, json={"account": "viktor.zhukov", "reason": "r"}),
             422, "invalid_input")
    error_of(call(api, "POST", link, token, json={"account": "tsu:nobody", "reason": "r"}),
             404, "not_found")
    error_of(call(api, "POST", "/identities/no-such-sub/accounts", token,
                  json={"account": "tsu:viktor.zhukov", "reason": "r"}), 404, "not_found")
    error_of(call(api, "POST", link, token, json={"account": "tpu:vzhukov", "reason": "r"}),
             409, "conflict")
    error_of(call(api, "DELETE", f"{link}/tsu:viktor.zhukov", token), 422, "invalid_input")
    error_of(call(api, "DELETE", f"{link}/tsu:viktor.zhukov", token, json={"reason": "r"}),
             404, "not_found")
    error_of(call(api, "DELETE", f"{link}/tpu:vzhukov", token, json={"reason": "r"}),
             409, "conflict")
    error_of(call(api, "GET", "/identities", token), 422, "invalid_input")
    for limit in ("0", "101", "x"):
        error_of(call(api, "GET", f"/identities?q=a&limit={limit}", token), 422, "invalid_input")
    error_of(call(api, "GET", "/audit", token), 422, "invalid_input")
    error_of(call(api, "GET", "/proposals?status=maybe", token), 422, "invalid_input")
    error_of(call(api, "POST", "/proposals/999/approve", token, json={"reason": "r"}),
             404, "not_found")
    error_of(call(api, "POST", "/proposals/999/reject", token, json={}), 422, "invalid_input")
    assert audit_count(app) == before
    with app.extensions["campus_id"].sessions() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.type.in_(["identity.merged", "account.unlinked"]))) == 0


def test_proposals_are_approved_or_rejected_with_a_reason(
        database: str, directories: dict[str, SlapdServer]) -> None:
    app = provider(database, directories, rules=True)
    api = app.test_client()
    try:
        elkina_tsu = log_in(app, "tsu", "alena.elkina")["claims"]["sub"]
        log_in(app, "tusur", "elkina.av")  # same name and birth date: a proposal
        galiev_tpu = log_in(app, "tpu", "tgaliev")["claims"]["sub"]
        galiev_tusur = log_in(app, "tusur", "galiev.tr")["claims"]["sub"]
        token = token_of(api, HELPDESK)
        queue = call(api, "GET", "/proposals", token).json["items"]
        assert [(p["account"], p["status"]) for p in queue] == [
            ("tusur:elkina.av", "pending"), ("tusur:galiev.tr", "pending")]
        tpu_only = call(api, "GET", "/proposals", token_of(api, HELPDESK_TPU)).json["items"]
        assert [p["account"] for p in tpu_only] == ["tusur:galiev.tr"]
        for decision in ("approve", "reject"):  # tsu and tusur only: not for a tpu helpdesk
            error_of(call(api, "POST", f"/proposals/{queue[0]['id']}/{decision}",
                          token_of(api, HELPDESK_TPU), json={"reason": "r"}), 403, "forbidden")
        before = audit_count(app)

        approved = call(api, "POST", f"/proposals/{queue[0]['id']}/approve", token,
                        json={"reason": "same passport"})
        assert approved.status_code == 200 and approved.json["status"] == "approved"
        rejected = call(api, "POST", f"/proposals/{queue[1]['id']}/reject", token,
                        json={"reason": "different people"})
        assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
        assert audit_count(app) == before + 2
        error_of(call(api, "POST", f"/proposals/{queue[0]['id']}/reject", token,
                      json={"reason": "changed my mind"}), 409, "conflict")
        assert call(api, "GET", "/proposals", token).json["items"] == []
        assert len(call(api, "GET", "/proposals?status=all", token).json["items"]) == 2

        assert log_in(app, "tusur", "elkina.av")["claims"]["sub"] == elkina_tsu
        assert log_in(app, "tusur", "galiev.tr", consent=None)["claims"]["sub"] == galiev_tusur
        assert galiev_tusur != galiev_tpu
        trail = call(api, "GET", f"/audit?sub={elkina_tsu}", token).json["items"]
        [event] = [e for e in trail if e["type"] == "link.approved"]
        assert (event["actor"], event["details"]["reason"]) == ("client:helpdesk", "same passport")
    finally:
        app.extensions["campus_id"].engine.dispose()


def test_openapi_document_describes_exactly_the_routes(app: Flask, api: FlaskClient) -> None:
    doc = api.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if (rule.endpoint.startswith(("api.", "api_clients.", "api_deliveries."))
                and rule.endpoint != "api.openapi"):
            path = rule.rule.removeprefix("/api/v1").replace("<sub>", "{sub}") \
                .replace("<key>", "{account}").replace("<int:proposal_id>", "{id}") \
                .replace("<client_id>", "{client_id}").replace("<int:job_id>", "{id}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if "<any(approve, reject):decision>" in path:
                    served |= {(path.replace("<any(approve, reject):decision>", d), method)
                               for d in ("approve", "reject")}
                else:
                    served.add((path, method))
    assert documented == served
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status == "204":
                    assert "content" not in response
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
