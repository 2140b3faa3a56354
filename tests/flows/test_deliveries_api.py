"""The helpdesk API's delivery jobs over HTTP: list (filters, pages) and retry with a reason,
the consortium-wide helpdesk role only, every error code, the retry audited; the answers
validated against the OpenAPI document, which names exactly these routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.storage.audit import AuditEvent
from idp.storage.provisioning import DeliveryJob
from tests.flows.test_helpdesk_api import (  # noqa: F401 (the fixtures)
    HELPDESK,
    HELPDESK_TPU,
    api,
    app,
    call,
    database,
    token_of,
)

FAILED = {"state": "failed", "attempts": 3, "last_error": "HTTP 404: no such patron",
          "request_id": "helpdesk-click-9"}


def add_jobs(app: Flask, *rows: dict[str, Any]) -> list[int]:  # noqa: F811
    now = datetime.now(UTC)
    with app.extensions["campus_id"].sessions() as db:
        jobs = [DeliveryJob(**{
            "idempotency_key": f"msg_api_{i}", "connector": "library_hook", "kind": "grant",
            "resource": "library", "identity_id": 100 + i, "campus_id": f"20000000{i}",
            "payload": {"grant": {}, "person": {}}, "state": "pending", "attempts": 0,
            "next_attempt_at": now, "created_at": now, "updated_at": now, **row})
            for i, row in enumerate(rows)]
        db.add_all(jobs)
        db.commit()
        return [j.id for j in jobs]


def operations(app: Flask) -> dict[str, Any]:  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/deliveries"):
            found[operation.label] = operation
    return found


def test_list_and_retry_answer_as_documented(app: Flask, api: FlaskClient) -> None:  # noqa: F811
    done, failed, gym = add_jobs(app, {"state": "done", "attempts": 1}, FAILED,
                                 {"connector": "gym_hook", "kind": "revoke"})
    token = token_of(api, HELPDESK)
    documented = operations(app)
    assert set(documented) == {"GET /deliveries", "POST /deliveries/{id}/retry"}

    listed = call(api, "GET", "/deliveries", token)
    assert listed.status_code == 200 and "no-store" in listed.headers["Cache-Control"]
    assert [j["id"] for j in listed.json["items"]] == [done, failed, gym]
    assert listed.json["items"][1] == {
        "id": failed, "connector": "library_hook", "type": "grant", "resource": "library",
        "campus_id": "200000001", "state": "failed", "attempts": 3,
        "last_error": "HTTP 404: no such patron", "request_id": "helpdesk-click-9"}
    only = call(api, "GET", "/deliveries?state=failed&connector=library_hook", token)
    assert [j["id"] for j in only.json["items"]] == [failed]
    page = call(api, "GET", "/deliveries?limit=2", token)
    assert [j["id"] for j in page.json["items"]] == [done, failed]
    rest = call(api, "GET", f"/deliveries?limit=2&cursor={page.json['next_cursor']}", token)
    assert ([j["id"] for j in rest.json["items"]], rest.json["next_cursor"]) == ([gym], None)

    retried = call(api, "POST", f"/deliveries/{failed}/retry", token,
                   json={"reason": "library fixed, ticket 88"})
    assert retried.status_code == 200, retried.json
    assert (retried.json["state"], retried.json["attempts"]) == ("pending", 3)
    with app.extensions["campus_id"].sessions() as db:
        job = db.get_one(DeliveryJob, failed)
        assert (job.idempotency_key, job.state) == ("msg_api_1", "pending")
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.retried"))
        assert event.actor == "client:helpdesk"
        assert event.details["reason"] == "library fixed, ticket 88"

    answers = [
        ("GET /deliveries", listed, 200), ("GET /deliveries", only, 200),
        ("GET /deliveries", call(api, "GET", "/deliveries?state=lost", token), 422),
        ("GET /deliveries", call(api, "GET", "/deliveries", None), 401),
        ("POST /deliveries/{id}/retry", retried, 200),
        ("POST /deliveries/{id}/retry",
         call(api, "POST", f"/deliveries/{failed}/retry", token, json={"reason": "again"}), 409),
        ("POST /deliveries/{id}/retry",
         call(api, "POST", "/deliveries/999999/retry", token, json={"reason": "x"}), 404),
        ("POST /deliveries/{id}/retry",
         call(api, "POST", f"/deliveries/{done}/retry", token, json={}), 422),
        ("POST /deliveries/{id}/retry",
         call(api, "POST", f"/deliveries/{done}/retry", token, data="[1]",
              content_type="application/json"), 400),
    ]
    paths = api.get("/api/v1/openapi.json").json["paths"]
    for label, response, status in answers:
        assert response.status_code == status, (label, response.get_data(as_text=True))
        method, path = label.split(" ")
        assert str(status) in paths[path][method.lower()]["responses"], label
        documented[label].validate_response(response)
    again = call(api, "POST", f"/deliveries/{failed}/retry", token, json={"reason": "again"})
    assert again.json["message"] == (f"Delivery job {failed} is pending, not failed: only a "
                                     "failed job is retried.")
    assert call(api, "GET", "/deliveries", None).headers["WWW-Authenticate"] == \
        'Bearer realm="campus-id"'


def test_an_organization_helpdesk_is_refused(app: Flask, api: FlaskClient) -> None:  # noqa: F811
    [failed] = add_jobs(app, FAILED)
    token = token_of(api, HELPDESK_TPU)
    listed = call(api, "GET", "/deliveries", token)
    assert listed.status_code == 403
    assert listed.json == {"error": "forbidden",
                           "message": "Delivery jobs need the consortium-wide helpdesk role."}
    retried = call(api, "POST", f"/deliveries/{failed}/retry", token, json={"reason": "x"})
    assert retried.status_code == 403
    operations(app)["POST /deliveries/{id}/retry"].validate_response(retried)
    with app.extensions["campus_id"].sessions() as db:
        assert db.get_one(DeliveryJob, failed).state == "failed"
    bad = call(api, "GET", "/deliveries", "not-a-token")
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
