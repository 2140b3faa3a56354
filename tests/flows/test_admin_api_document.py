"""The client management API answers as its part of /api/v1/openapi.json says: real answers
(list, read, disable, 403 on another organization's client, 404, 422, delete) validated against
the document, and a bounded schemathesis run over the /clients operations (no 5xx; status,
content type and body as documented)."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.flows.test_admin_api import (  # noqa: F401 (the app fixture)
    BOSS,
    TPU_ADMIN,
    TSU_ADMIN,
    app,
    call,
    register,
    token_of,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def client_operations(app: Flask) -> dict[str, Any]:  # noqa: F811
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = {}
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/clients"):
            operations[operation.label] = operation
    return operations


def test_real_answers_match_the_document(app: Flask) -> None:  # noqa: F811
    operations = client_operations(app)
    assert set(operations) == {"GET /clients", "GET /clients/{client_id}",
                               "PATCH /clients/{client_id}", "DELETE /clients/{client_id}"}
    api = app.test_client()
    token, boss = token_of(api, TSU_ADMIN), token_of(api, BOSS)
    own = register(app, api, "tsu")["client_id"]
    other = register(app, api, "tpu")["client_id"]
    answers = [
        ("GET /clients", call(api, "GET", "", token), 200),
        ("GET /clients", call(api, "GET", "?organization=tpu", token), 403),
        ("GET /clients", call(api, "GET", "", None), 401),
        ("GET /clients/{client_id}", call(api, "GET", f"/{own}", token), 200),
        ("GET /clients/{client_id}", call(api, "GET", f"/{other}", token), 403),
        ("GET /clients/{client_id}", call(api, "GET", "/nobody", token), 404),
        ("PATCH /clients/{client_id}", call(api, "PATCH", f"/{own}", token,
                                            json={"disabled": True}), 200),
        ("PATCH /clients/{client_id}", call(api, "PATCH", f"/{own}", token,
                                            json={"disabled": "yes"}), 422),
        ("DELETE /clients/{client_id}", call(api, "DELETE", "/rp1", boss), 409),  # config file
        ("DELETE /clients/{client_id}", call(api, "DELETE", f"/{own}", token), 204),
    ]
    paths = api.get("/api/v1/openapi.json").json["paths"]
    for label, response, status in answers:
        assert response.status_code == status, (label, response.get_data(as_text=True))
        method, path = label.split(" ")
        assert str(status) in paths[path][method.lower()]["responses"], label
        operations[label].validate_response(response)  # the body, against its schema
    assert call(api, "GET", "", token).json["items"] == []  # the deleted one is gone


def test_fuzzed_requests_answer_as_documented(app: Flask) -> None:  # noqa: F811
    api = app.test_client()
    register(app, api, "tpu")
    headers = {"Authorization": f"Bearer {token_of(api, TPU_ADMIN)}"}
    for operation in client_operations(app).values():

        @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
