"""The admin UI: staff sign in through Campus ID's own code flow, roles from the
configuration, clients and registration tokens of their organization only (403, audited, on
another's), secret shown once and rotated, disable and delete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client
from idp.storage.release import get_release
from idp.storage.tokens import AccessToken
from tests.flows.conftest import make_settings
from tests.support.admin import admin_sign_in, form_as_shown, local, post_form
from tests.support.oidc_client import RelyingParty, sign_in

ROLES = {"consortium_admin": ["tpu:ikuznetsov"], "org_admin": ["tsu:ivan.petrov", "tpu:epopova"]}
MOODLE_URI = "https://moodle.tsu.example.org/admin/oauth2callback.php"
SECRET = re.compile(r'id="client-secret" class="secret" value="([^"]+)"')
CLIENT_ID = re.compile(r'id="client-id">([^<]+)<')


def pw(org: str, username: str) -> str:
    return people.organization(org).person(username).password


@pytest.fixture
def admin_settings(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Settings:
    return make_settings(migrated_database_url, directories, roles=ROLES)


@pytest.fixture
def admin_app(admin_settings: Settings) -> Iterator[Flask]:
    app = create_app(admin_settings)
    yield app
    app.extensions["campus_id"].engine.dispose()


def staff_browser(app: Flask, org: str, username: str) -> tuple[FlaskClient, str]:
    browser = app.test_client()
    page = admin_sign_in(browser, username, pw(org, username), org)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return browser, page.get_data(as_text=True)


def create_moodle(browser: FlaskClient, org: str = "tsu", name: str = "Moodle ТГУ") -> tuple[str, str]:
    form = browser.get("/admin/clients/new")
    response = post_form(browser, form, "/admin/clients/new", {
        "organization": org, "name": name, "redirect_uris": MOODLE_URI, "profile": "moodle",
        "auth_method": "", "scope": ["openid", "profile", "email", "campus"]})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    html = response.get_data(as_text=True)
    return CLIENT_ID.search(html).group(1), SECRET.search(html).group(1)  # type: ignore[union-attr]


def stored(app: Flask, client_id: str) -> Client:
    with app.extensions["campus_id"].sessions() as db:
        client = db.query(Client).filter_by(client_id=client_id).one()
        db.expunge(client)
        return client


def events(app: Flask, kind: AuditEventType) -> list[audit.AuditEvent]:
    with app.extensions["campus_id"].sessions() as db:
        return audit.events(db, kind)


def test_org_admin_signs_in_through_campus_id_and_sees_own_clients(admin_app: Flask) -> None:
    browser, html = staff_browser(admin_app, "tsu", "ivan.petrov")
    assert "org_admin:tsu" in html
    client_id, secret = create_moodle(browser)
    assert len(secret) >= 32
    listing = browser.get("/admin/clients").get_data(as_text=True)
    assert client_id in listing and "Moodle ТГУ" in listing
    # The sign-in was a real code exchange of the campus-admin client, audited as everyone's.
    admin_client = stored(admin_app, "campus-admin")
    with admin_app.extensions["campus_id"].sessions() as db:
        assert db.query(AccessToken).filter_by(client_pk=admin_client.id).count() == 1
    assert [e for e in events(admin_app, AuditEventType.LOGIN_SUCCEEDED)
            if e.actor == "tsu:ivan.petrov"]
    signed = events(admin_app, AuditEventType.ADMIN_SIGNED_IN)
    assert signed and signed[-1].details["roles"] == ["org_admin:tsu"]
    created = [e for e in events(admin_app, AuditEventType.CLIENT_CREATED) if e.client_id == client_id]
    assert created[0].actor.startswith("staff:") and created[0].organization == "tsu"
    client = stored(admin_app, client_id)
    assert client.organization == "tsu" and client.auth_method == "client_secret_post"
    assert client.registered_metadata["campus_profile"] == "moodle" and not client.pkce_required
    assert secret not in str(client.secret_hash)


def test_a_person_without_a_role_gets_403(admin_app: Flask) -> None:
    browser = admin_app.test_client()
    page = admin_sign_in(browser, "mpetrova", pw("tpu", "mpetrova"), "tpu")
    assert page.status_code == 403
    assert events(admin_app, AuditEventType.ADMIN_FORBIDDEN)


def test_org_admin_gets_403_on_another_organizations_client(admin_app: Flask) -> None:
    tsu_admin, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(tsu_admin)
    tpu_admin, _ = staff_browser(admin_app, "tpu", "epopova")
    assert client_id not in tpu_admin.get("/admin/clients").get_data(as_text=True)
    page = tpu_admin.get("/admin/clients")
    assert tpu_admin.get(f"/admin/clients/{client_id}").status_code == 403
    assert tpu_admin.get(f"/admin/clients/{client_id}/audit").status_code == 403
    assert tpu_admin.get("/admin/clients?org=tsu").status_code == 403
    for action in ("disable", "delete", "rotate"):
        response = post_form(tpu_admin, page, f"/admin/clients/{client_id}/{action}",
                             {"confirm": "on"})
        assert response.status_code == 403, action
    response = post_form(tpu_admin, page, f"/admin/clients/{client_id}", {
        "name": "Hijacked", "redirect_uris": MOODLE_URI, "profile": "moodle"})
    assert response.status_code == 403
    client = stored(admin_app, client_id)
    assert client.name == "Moodle ТГУ" and client.disabled_at is None and client.deleted_at is None
    forbidden = events(admin_app, AuditEventType.ADMIN_FORBIDDEN)
    assert len(forbidden) >= 7 and all(e.organization == "tsu" for e in forbidden[-6:])
    # Creating a client or a token for another organization is refused too.
    response = post_form(tpu_admin, page, "/admin/clients/new", {
        "organization": "tsu", "name": "X", "redirect_uris": MOODLE_URI, "profile": "moodle"})
    assert response.status_code == 403
    response = post_form(tpu_admin, page, "/admin/tokens", {"organization": "tsu"})
    assert response.status_code == 403


def test_consortium_admin_sees_every_organization_with_a_filter(admin_app: Flask) -> None:
    tsu_admin, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(tsu_admin)
    boss, html = staff_browser(admin_app, "tpu", "ikuznetsov")
    assert "consortium_admin" in html
    assert client_id in html and "rp1" in html  # consortium clients of the config file too
    only_tpu = boss.get("/admin/clients?org=tpu").get_data(as_text=True)
    assert client_id not in only_tpu
    assert boss.get(f"/admin/clients/{client_id}").status_code == 200


STATIC_REFUSED = "This client is defined in the configuration file; change it there."
STATIC_CHANGES = (AuditEventType.CLIENT_DISABLED, AuditEventType.CLIENT_UPDATED,
                  AuditEventType.CLIENT_DELETED, AuditEventType.CLIENT_SECRET_ROTATED)


def test_a_client_of_the_configuration_file_is_changed_only_there(admin_app: Flask) -> None:
    """Even a consortium admin: disable, edit, delete and rotate each answer 409 with the
    reason, change nothing, and are audited as refused; the page offers none of them."""
    boss, _ = staff_browser(admin_app, "tpu", "ikuznetsov")
    page = boss.get("/admin/clients/rp1?lang=en")
    html = page.get_data(as_text=True)
    assert "Defined in the configuration file" in html
    assert "/admin/clients/rp1/disable" not in html and 'action="/admin/clients/rp1"' not in html
    before = stored(admin_app, "rp1")
    for path, data in (("/admin/clients/rp1/disable", {}),
                       ("/admin/clients/rp1", {"name": "Renamed",
                                               "redirect_uris": "https://rp1.example.org/callback"}),
                       ("/admin/clients/rp1/delete", {"confirm": "on"}),
                       ("/admin/clients/rp1/rotate", {})):
        response = post_form(boss, page, path, data)
        assert response.status_code == 409, path
        assert STATIC_REFUSED in response.get_data(as_text=True)
    after = stored(admin_app, "rp1")
    assert (after.name, after.secret_hash) == (before.name, before.secret_hash)
    assert after.disabled_at is None and after.deleted_at is None
    assert after.tokens_revoked_before is None
    refused = [e for e in events(admin_app, AuditEventType.ADMIN_FORBIDDEN) if e.client_id == "rp1"]
    assert [e.details["reason"].split(":")[0] for e in refused] == [
        "disable", "edit", "delete", "rotate the secret"]
    assert {e.actor for e in refused} == {refused[0].actor} and refused[0].actor.startswith("staff:")
    assert not [e for kind in STATIC_CHANGES for e in events(admin_app, kind) if e.client_id == "rp1"]


def test_saving_a_client_form_unchanged_changes_nothing(admin_app: Flask) -> None:
    """A private_key_jwt client with logout addresses: the edit page shows all of it, and
    saving it as shown keeps its authentication, key set address and logout addresses."""
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    form = browser.get("/admin/clients/new?lang=en")
    logout = ["https://lms.tsu.example.org/bye", "https://lms.tsu.example.org/bye?again=1"]
    response = post_form(browser, form, "/admin/clients/new", {
        "organization": "tsu", "name": "LMS", "redirect_uris": "https://lms.tsu.example.org/cb",
        "auth_method": "private_key_jwt", "jwks_uri": "https://lms.tsu.example.org/jwks.json",
        "post_logout_redirect_uris": "\n".join(logout),
        "backchannel_logout_uri": "https://lms.tsu.example.org/backchannel",
        "backchannel_logout_session_required": "on", "scope": ["openid", "profile"]})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    client_id = CLIENT_ID.search(response.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    made = stored(admin_app, client_id)
    assert (made.auth_method, made.jwks_uri) == ("private_key_jwt", "https://lms.tsu.example.org/jwks.json")
    assert made.post_logout_redirect_uris == logout and made.backchannel_logout_session_required

    page = browser.get(f"/admin/clients/{client_id}?lang=en")
    shown = form_as_shown(page, f"/admin/clients/{client_id}")
    assert shown["auth_method"] == "private_key_jwt"
    response = browser.post(f"/admin/clients/{client_id}", data=shown)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    kept = stored(admin_app, client_id)
    for name in ("auth_method", "jwks_uri", "post_logout_redirect_uris", "backchannel_logout_uri",
                 "backchannel_logout_session_required", "redirect_uris", "scopes", "grant_types"):
        assert getattr(kept, name) == getattr(made, name), name
    update = [e for e in events(admin_app, AuditEventType.CLIENT_UPDATED) if e.client_id == client_id]
    assert update[-1].details["changed"] == []

    # Emptying the logout fields removes them.
    response = browser.post(f"/admin/clients/{client_id}", data={
        **shown, "post_logout_redirect_uris": "", "backchannel_logout_uri": "",
        "backchannel_logout_session_required": ""})
    assert response.status_code == 302
    emptied = stored(admin_app, client_id)
    assert emptied.post_logout_redirect_uris == [] and emptied.backchannel_logout_uri is None
    assert emptied.auth_method == "private_key_jwt"


def test_bad_metadata_is_refused_naming_the_field_and_nothing_is_stored(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    form = browser.get("/admin/clients/new")
    response = post_form(browser, form, "/admin/clients/new", {
        "organization": "tsu", "name": "Moodle", "profile": "moodle",
        "redirect_uris": "http://moodle.tsu.example.org/callback#frag"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "redirect_uris" in html and "oauth2callback.php" in html
    assert not [e for e in events(admin_app, AuditEventType.CLIENT_CREATED) if e.actor.startswith("staff:")]


def test_event_delivery_uri_is_set_validated_and_kept_through_the_form(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    form = browser.get("/admin/clients/new?lang=en")
    assert 'name="event_delivery_uri"' in form.get_data(as_text=True)
    fields = {"organization": "tsu", "name": "Library", "redirect_uris": "https://lib.tsu.example.org/cb",
              "auth_method": "", "scope": ["openid", "profile"]}
    for bad, message in (("http://lib.tsu.example.org/events", "must use https"),
                         ("https://lib.tsu.example.org/events#top", "must not contain a fragment"),
                         ("/events", "must be an absolute URI")):
        response = post_form(browser, form, "/admin/clients/new", {**fields, "event_delivery_uri": bad})
        assert response.status_code == 400, bad
        assert f"event_delivery_uri: {bad!r} {message}" in response.get_data(as_text=True).replace(
            "&#39;", "'")
    assert not [e for e in events(admin_app, AuditEventType.CLIENT_CREATED) if e.actor.startswith("staff:")]
    events_uri = "https://lib.tsu.example.org/events"
    response = post_form(browser, form, "/admin/clients/new", {**fields, "event_delivery_uri": events_uri})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    client_id = CLIENT_ID.search(response.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert stored(admin_app, client_id).event_delivery_uri == events_uri
    page = browser.get(f"/admin/clients/{client_id}")
    assert f'value="{events_uri}"' in page.get_data(as_text=True)
    # Saving the form as shown keeps it; emptying the field removes it.
    edit = {"name": "Library (new)", "redirect_uris": "https://lib.tsu.example.org/cb",
            "auth_method": "client_secret_basic", "scope": ["openid"]}
    response = post_form(browser, page, f"/admin/clients/{client_id}",
                         {**edit, "event_delivery_uri": events_uri})
    assert response.status_code == 302
    assert stored(admin_app, client_id).event_delivery_uri == events_uri
    response = post_form(browser, page, f"/admin/clients/{client_id}", {**edit, "event_delivery_uri": ""})
    assert response.status_code == 302
    assert stored(admin_app, client_id).event_delivery_uri is None
    updates = [e for e in events(admin_app, AuditEventType.CLIENT_UPDATED) if e.client_id == client_id]
    assert "event_delivery_uri" not in updates[0].details["changed"]
    assert "event_delivery_uri" in updates[1].details["changed"]


def test_forms_need_the_csrf_token(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(browser)
    response = browser.post(f"/admin/clients/{client_id}/delete", data={})
    assert response.status_code == 400
    assert stored(admin_app, client_id).deleted_at is None


def test_edit_disable_enable_and_delete(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(browser)
    page = browser.get(f"/admin/clients/{client_id}")
    response = post_form(browser, page, f"/admin/clients/{client_id}", {
        "name": "Moodle ТГУ (новый)", "redirect_uris": MOODLE_URI, "profile": "moodle",
        "auth_method": "client_secret_basic", "scope": ["openid", "email", "campus"]})
    assert response.status_code == 302
    client = stored(admin_app, client_id)
    assert client.name == "Moodle ТГУ (новый)" and client.auth_method == "client_secret_basic"
    assert client.scopes == ["openid", "email", "campus"] and client.secret_hash
    post_form(browser, page, f"/admin/clients/{client_id}/disable", {})
    assert stored(admin_app, client_id).disabled_at is not None
    assert "disabled" in browser.get(f"/admin/clients/{client_id}?lang=en").get_data(as_text=True)
    post_form(browser, page, f"/admin/clients/{client_id}/enable", {})
    assert stored(admin_app, client_id).disabled_at is None
    response = post_form(browser, page, f"/admin/clients/{client_id}/delete", {})
    assert response.status_code == 400  # not confirmed: nothing happens
    assert stored(admin_app, client_id).deleted_at is None
    response = post_form(browser, page, f"/admin/clients/{client_id}/delete", {"confirm": "on"})
    assert response.status_code == 302
    assert stored(admin_app, client_id).deleted_at is not None
    assert browser.get(f"/admin/clients/{client_id}").status_code == 404
    trail = [e.type for e in events(admin_app, AuditEventType.CLIENT_DELETED) if e.client_id == client_id]
    assert trail == ["client.deleted"]


def test_client_audit_trail_page(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(browser)
    page = browser.get(f"/admin/clients/{client_id}")
    post_form(browser, page, f"/admin/clients/{client_id}/rotate", {})
    html = browser.get(f"/admin/clients/{client_id}/audit").get_data(as_text=True)
    assert "client.created" in html and "client.secret_rotated" in html and "staff:" in html


def test_registration_tokens_list_create_revoke(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    page = browser.get("/admin/tokens")
    response = post_form(browser, page, "/admin/tokens",
                         {"organization": "tsu", "expires_in": "2d", "max_uses": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    value = re.search(r'id="token-value" class="secret" value="([^"]+)"', html)
    assert value and value.group(1).startswith("cid_iat_")
    # The token registers a client of tsu through RFC 7591.
    registered = browser.post("/register", json={
        "client_name": "Library", "redirect_uris": ["https://lib.tsu.example.org/cb"]},
        headers={"Authorization": f"Bearer {value.group(1)}"})
    assert registered.status_code == 201 and registered.json["campus_organization"] == "tsu"
    assert value.group(1) not in browser.get("/admin/tokens").get_data(as_text=True)
    bad = post_form(browser, page, "/admin/tokens", {"organization": "tsu", "expires_in": "soon"})
    assert bad.status_code == 400 and "expires_in" in bad.get_data(as_text=True)
    token_id = events(admin_app, AuditEventType.REGISTRATION_TOKEN_CREATED)[-1].details["token_id"]
    response = post_form(browser, page, f"/admin/tokens/{token_id}/revoke", {})
    assert response.status_code == 302
    revoked = events(admin_app, AuditEventType.REGISTRATION_TOKEN_REVOKED)
    assert revoked and revoked[-1].actor.startswith("staff:")


def test_logging_out_of_campus_id_ends_the_admin_session(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    page = browser.get("/")
    post_form(browser, page, "/logout", {})
    response = browser.get("/admin/clients")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_disabled_client_cannot_log_in_or_get_tokens(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, secret = create_moodle(browser)
    rp = RelyingParty(client_id, MOODLE_URI)  # Moodle sends its secret in the body, no PKCE
    person = admin_app.test_client()
    params = sign_in(person, rp, "olga.kozlova", pw("tsu", "olga.kozlova"), "tsu")
    page = browser.get(f"/admin/clients/{client_id}")
    post_form(browser, page, f"/admin/clients/{client_id}/disable", {})
    refused = rp.token(person, params["code"], client_secret=secret)
    assert refused.status_code in (400, 401) and refused.json["error"] == "invalid_client"
    response = person.get("/authorize", query_string=rp.params())
    assert response.status_code == 400  # an error page, never a redirect to the client
    post_form(browser, page, f"/admin/clients/{client_id}/enable", {})
    params = sign_in(person, rp, "olga.kozlova", pw("tsu", "olga.kozlova"), "tsu")
    assert rp.token(person, params["code"], client_secret=secret).status_code == 200


def test_rotation_overlap_at_the_token_endpoint(admin_app: Flask) -> None:
    """Both secrets get tokens inside the window; after it (the expiry row moved into the
    past), the old one is refused and the new one works."""
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, old = create_moodle(browser)
    page = browser.get(f"/admin/clients/{client_id}")
    rotated = post_form(browser, page, f"/admin/clients/{client_id}/rotate", {})
    html = rotated.get_data(as_text=True)
    new = SECRET.search(html).group(1)  # type: ignore[union-attr]
    assert new != old and "(UTC)" in html
    rp = RelyingParty(client_id, MOODLE_URI)
    person = admin_app.test_client()

    def exchange(secret: str) -> int:
        params = sign_in(person, rp, "olga.kozlova", pw("tsu", "olga.kozlova"), "tsu")
        return rp.token(person, params["code"], client_secret=secret).status_code

    assert exchange(old) == 200 and exchange(new) == 200
    with admin_app.extensions["campus_id"].sessions() as db:
        client = db.query(Client).filter_by(client_id=client_id).one()
        client.previous_secret_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.commit()
    assert exchange(old) in (400, 401)
    assert exchange(new) == 200


def test_release_policy_page_edits_the_admins_organization_only(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    client_id, _secret = create_moodle(browser)
    page = browser.get(f"/admin/clients/{client_id}/release?lang=en")
    assert page.status_code == 200
    assert "Consortium default" in page.get_data(as_text=True)
    path = f"/admin/clients/{client_id}/release"
    response = post_form(browser, page, path, {"level": "tsu", "restrict": "on",
                                               "claim": ["campus_id", "email", "name"]})
    assert response.status_code == 302
    with admin_app.extensions["campus_id"].sessions() as db:
        client = db.query(Client).filter_by(client_id=client_id).one()
        assert get_release(db, client.id, "tsu") == {"campus_id", "email", "name"}
        assert get_release(db, client.id) is None
    # Moodle cannot do without an email: refused, saying why, nothing changed.
    refused = post_form(browser, page, path, {"level": "tsu", "restrict": "on", "claim": ["name"]})
    assert refused.status_code == 400 and "email" in refused.get_data(as_text=True)
    # The consortium's default and another organization's level are not an org_admin's.
    assert post_form(browser, page, path, {"level": "", "restrict": "on",
                                           "claim": ["campus_id", "email"]}).status_code == 403
    assert post_form(browser, page, path, {"level": "tpu", "restrict": "on",
                                           "claim": ["campus_id", "email"]}).status_code == 403
    with admin_app.extensions["campus_id"].sessions() as db:
        assert get_release(db, client.id, "tsu") == {"campus_id", "email", "name"}
        assert get_release(db, client.id) is None and get_release(db, client.id, "tpu") is None
        changes = audit.events(db, AuditEventType.CLIENT_RELEASE_CHANGED)
    assert len(changes) == 1 and changes[0].actor.startswith("staff:")


def test_leaving_the_admin_area_keeps_the_campus_id_session(admin_app: Flask) -> None:
    browser, _ = staff_browser(admin_app, "tsu", "ivan.petrov")
    page = browser.get("/admin/clients")
    response = post_form(browser, page, "/admin/logout", {})
    assert response.status_code == 302
    response = browser.get("/admin/clients")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    # Signing in again needs no password: the single sign-on session goes on.
    again = admin_sign_in(browser, "ivan.petrov", "not-needed", "tsu")
    assert again.status_code == 200 and "org_admin:tsu" in again.get_data(as_text=True)


def test_callback_refuses_what_it_did_not_ask_for(admin_app: Flask) -> None:
    """A wrong state, no sign-in in progress, or a code of another client: no admin session."""
    browser = admin_app.test_client()
    assert browser.get("/admin/callback?code=x&state=y").status_code == 400
    start = browser.get("/admin/login?next=https://evil.example.org/")
    authorize = start.headers["Location"]
    assert "client_id=campus-admin" in authorize and "code_challenge_method=S256" in authorize
    assert browser.get("/admin/callback?code=x&state=wrong").status_code == 400
    # A real code, but issued to another client, is refused by the token endpoint's checks.
    rp1 = RelyingParty("rp1", "https://rp1.example.org/callback", secret="rp1-secret-0123456789")
    params = sign_in(browser, rp1, "ivan.petrov", pw("tsu", "ivan.petrov"), "tsu")
    browser.get("/admin/login")
    state = browser.get("/admin/login").headers["Location"].split("state=")[1].split("&")[0]
    response = browser.get(f"/admin/callback?code={params['code']}&state={state}")
    assert response.status_code == 400
    assert browser.get("/admin/clients").status_code == 302  # still not signed in
    assert not events(admin_app, AuditEventType.ADMIN_SIGNED_IN)


def test_sign_in_never_redirects_off_the_admin_area(admin_app: Flask) -> None:
    browser = admin_app.test_client()
    staff_browser_sso = admin_sign_in(browser, "ivan.petrov", pw("tsu", "ivan.petrov"), "tsu")
    assert staff_browser_sso.status_code == 200
    for target in ("//evil.example.org/admin/", "https://evil.example.org/", "/admin/../x"):
        response = browser.get("/admin/login", query_string={"next": target})
        response = browser.get(local(response.headers["Location"]))  # SSO: straight back
        response = browser.get(local(response.headers["Location"]))  # the callback
        assert response.status_code == 302 and response.headers["Location"] == "/admin/", target


def test_behind_a_proxy_discovery_and_the_admin_redirect_follow_the_issuer(
        migrated_database_url: str, directories: dict[str, SlapdServer]) -> None:
    """nginx terminates TLS and forwards over http: with trust_forwarded_headers the request is
    seen as https, and every address announced is the configured issuer's."""
    settings = make_settings(migrated_database_url, directories, roles=ROLES,
                             server={"trust_forwarded_headers": True})
    app = create_app(settings)
    try:
        proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "id.campus.test",
                 "X-Forwarded-For": "203.0.113.5"}
        browser = app.test_client()
        metadata = browser.get("/.well-known/openid-configuration", headers=proxy).json
        assert metadata["issuer"] == "https://id.campus.test"
        assert metadata["token_endpoint"] == "https://id.campus.test/token"
        start = browser.get("/admin/login", headers=proxy)
        assert "redirect_uri=https%3A%2F%2Fid.campus.test%2Fadmin%2Fcallback" in start.headers["Location"]
    finally:
        app.extensions["campus_id"].engine.dispose()
