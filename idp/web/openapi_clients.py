"""The client management API's part of the OpenAPI document (``/api/v1/clients``), kept next
to, and as exact as, ``idp.web.api_clients``."""

from __future__ import annotations

from typing import Any

_REF = "#/components/schemas/"
_ERRORS = {
    "401": "No, or no valid, bearer access token (with a WWW-Authenticate challenge).",
    "403": "The client has no admin role, or the client belongs to an organization it does "
           "not manage (audited).",
    "404": "No client has this client_id.",
    "409": "The client is defined in the configuration file: change it there.",
    "422": 'The body is not {"disabled": true} or {"disabled": false}.',
}
_NULLABLE_STR = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_CLIENT_ID = {"name": "client_id", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "The client_id of a relying party of an organization."}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"description": _ERRORS[code],
                   "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}}}
            for code in codes}


def _ok(schema: str) -> dict[str, Any]:
    return {"200": {"description": "OK",
                    "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}}


CLIENT_SCHEMAS: dict[str, Any] = {
    "Client": {"type": "object", "description": "A relying party; never its secret.",
               "required": ["client_id", "organization", "disabled", "created_at", "source"],
               "properties": {
        "client_id": {"type": "string"}, "organization": _NULLABLE_STR,
        "disabled": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
        "source": {"type": "string", "description": "How it was registered (config, admin, dcr...)."},
        "name": {"type": "string"}, "redirect_uris": _STRINGS,
        "token_endpoint_auth_method": {"type": "string"}, "grant_types": _STRINGS,
        "scopes": _STRINGS, "pkce_required": {"type": "boolean"},
        "profile": {**_NULLABLE_STR, "description": "campus_profile, e.g. moodle."},
        "event_delivery_uri": {**_NULLABLE_STR, "description": "Where Security Event Tokens "
                               "about its people are pushed (RFC 8935)."}}},
    "ClientList": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"$ref": _REF + "Client"}}}},
    "ClientChange": {"type": "object", "required": ["disabled"], "additionalProperties": False,
                     "properties": {"disabled": {"type": "boolean"}}},
}

CLIENT_PATHS: dict[str, Any] = {
    "/clients": {"get": {
        "operationId": "listClients",
        "summary": "The relying parties the caller manages: every one for consortium_admin, "
                   "its organizations' for org_admin:ORG.",
        "parameters": [{"name": "organization", "in": "query", "required": False,
                        "schema": {"type": "string"},
                        "description": "Only this organization's clients (403 if not managed)."}],
        "responses": {**_ok("ClientList"), **_errors("401", "403")}}},
    "/clients/{client_id}": {
        "get": {"operationId": "readClient", "summary": "One managed client.",
                "parameters": [_CLIENT_ID],
                "responses": {**_ok("Client"), **_errors("401", "403", "404")}},
        "patch": {"operationId": "changeClient",
                  "summary": "Disable a client (it logs no one in and its tokens stop working) "
                             "or enable it again.",
                  "parameters": [_CLIENT_ID],
                  "requestBody": {"required": True, "content": {
                      "application/json": {"schema": {"$ref": _REF + "ClientChange"}}}},
                  "responses": {**_ok("Client"), **_errors("401", "403", "404", "422")}},
        "delete": {"operationId": "deleteClient",
                   "summary": "Delete a client; every token issued to it stops working.",
                   "parameters": [_CLIENT_ID],
                   "responses": {"204": {"description": "Deleted."},
                                 **_errors("401", "403", "404", "409")}},
    },
}
