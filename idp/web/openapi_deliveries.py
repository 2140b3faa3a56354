"""The delivery jobs' part of the OpenAPI document (``/api/v1/deliveries``), kept next to, and
as exact as, ``idp.web.api_deliveries``."""

from __future__ import annotations

from typing import Any

_REF = "#/components/schemas/"
_ERRORS = {
    "400": "The body is not a JSON object.",
    "401": "No, or no valid, bearer access token (with a WWW-Authenticate challenge).",
    "403": "The client has no consortium-wide helpdesk role (helpdesk:ORG is not enough).",
    "404": "No delivery job has this id.",
    "409": "The job is not failed, or a newer job of the same person, resource and connector "
           "superseded it.",
    "422": "A field is missing or invalid (reason, state, limit, cursor).",
}
_NULLABLE_STR = {"type": ["string", "null"]}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"description": _ERRORS[code],
                   "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}}}
            for code in codes}


def _ok(schema: str) -> dict[str, Any]:
    return {"200": {"description": "OK",
                    "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


DELIVERY_SCHEMAS: dict[str, Any] = {
    "DeliveryJob": {
        "type": "object", "description": "A job of the delivery outbox: one grant or revoke "
                                         "of one resource for one person, to one connector.",
        "required": ["id", "connector", "type", "resource", "campus_id", "state", "attempts",
                     "last_error", "request_id"],
        "properties": {
            "id": {"type": "integer"}, "connector": {"type": "string"},
            "type": {"type": "string", "enum": ["grant", "revoke"]},
            "resource": {"type": "string"}, "campus_id": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "in_progress", "done", "failed"],
                      "description": "pending also while it waits for its next attempt; "
                                     "failed: dead-lettered."},
            "attempts": {"type": "integer"},
            "last_error": {**_NULLABLE_STR, "description": "The last failure: the answer's "
                                                           "status and the start of its body."},
            "request_id": {**_NULLABLE_STR, "description": "The id of the request (or job, or "
                                                           "command) that queued it, which the "
                                                           "audit trail and the log lines of "
                                                           "that request and of this job's "
                                                           "deliveries carry."}}},
    "DeliveryJobPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": _REF + "DeliveryJob"}},
        "next_cursor": _NULLABLE_STR}},
}

DELIVERY_PATHS: dict[str, Any] = {
    "/deliveries": {"get": {
        "operationId": "listDeliveries",
        "summary": "The delivery jobs, oldest first (as `idp deliveries list`).",
        "parameters": [
            _query("state", {"type": "string",
                             "enum": ["pending", "in_progress", "done", "failed"]}),
            _query("connector", {"type": "string"}),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            _query("cursor", {"type": "string", "pattern": "^[0-9]+$"},
                   "next_cursor of the previous page.")],
        "responses": {**_ok("DeliveryJobPage"), **_errors("401", "403", "422")}}},
    "/deliveries/{id}/retry": {"post": {
        "operationId": "retryDelivery",
        "summary": "Send a failed job again now: the same job, with the same idempotency key "
                   "and its attempts kept (as `idp deliveries retry`).",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": {"$ref": _REF + "Reason"}}}},
        "responses": {**_ok("DeliveryJob"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
}
