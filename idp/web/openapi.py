"""The OpenAPI 3.1 document of the API under ``/api/v1`` (``/api/v1/openapi.json``): the
helpdesk API (with its delivery jobs) and the client management API, written by hand so that
it says exactly what ``idp.web.api``, ``idp.web.api_deliveries`` and ``idp.web.api_clients``
do."""

from __future__ import annotations

from typing import Any

from idp.web.openapi_clients import CLIENT_PATHS, CLIENT_SCHEMAS
from idp.web.openapi_deliveries import DELIVERY_PATHS, DELIVERY_SCHEMAS

_REF = "#/components/schemas/"
_ERRORS = {
    "400": "The body is not a JSON object.",
    "401": "No, or no valid, bearer access token (with a WWW-Authenticate challenge).",
    "403": "The client has no helpdesk role, or the identity is outside its organization.",
    "404": "Unknown sub, account or proposal.",
    "409": "Conflicts with the current state.",
    "422": "A field is missing or invalid (reason, account, limit, cursor...).",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"description": _ERRORS[code],
                   "content": {"application/json": {"schema": _ref("Error")}}} for code in codes}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": _ref(schema)}}}}


def _param(name: str, where: str, schema: dict[str, Any], *, required: bool = False,
           description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


_SUB = _param("sub", "path", {"type": "string", "maxLength": 64}, required=True,
              description="The identity's sub, or an alias sub (answered by the survivor).")
_LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20})
_CURSOR = _param("cursor", "query", {"type": "string", "pattern": "^[0-9]+$"},
                 description="next_cursor of the previous page.")
_REASON_BODY = {"required": False, "content": {"application/json": {"schema": _ref("Reason")}}}
_NULLABLE_STR = {"type": ["string", "null"]}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": _ref(item)}, "next_cursor": _NULLABLE_STR}}


_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "enum": ["invalid_request", "invalid_token", "forbidden",
                                             "not_found", "conflict", "invalid_input"]},
        "message": {"type": "string"}}},
    "Reason": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
    "LinkRequest": {"type": "object", "required": ["account", "reason"], "properties": {
        "account": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}:\\S{1,256}$",
                    "examples": ["tsu:petrov"]},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
    "Account": {"type": "object", "properties": {
        "account": {"type": "string"}, "organization": {"type": "string"},
        "username": {"type": "string"}, "name": _NULLABLE_STR, "email": _NULLABLE_STR,
        "linked_at": {"type": "string", "format": "date-time"},
        "last_login_at": _NULLABLE_STR,
        "redacted": {"type": "boolean", "description": (
            "Another organization's account, shown to a helpdesk:ORG client by its "
            "organization alone.")}}},
    "IdentitySummary": {"type": "object", "properties": {
        "sub": {"type": "string"}, "campus_id": {"type": "string"}, "name": _NULLABLE_STR,
        "primary_account": {"type": "string"},
        "accounts": {"type": "array", "items": {"type": "string"}},
        "state": {"type": "string", "enum": ["active", "locked", "left"], "description": (
            "locked: the helpdesk's lock; left: no account is active in its directory.")},
        "organizations": {"type": "array", "items": {"type": "string"}},
        "affiliations": {"type": "array", "items": {"type": "string"}, "description": (
            "Of the accounts the caller may see.")}}},
    "Identity": {"type": "object", "required": ["sub", "campus_id", "accounts", "aliases"],
                 "properties": {
        "sub": {"type": "string"}, "campus_id": {"type": "string"},
        "status": {"type": "string", "enum": ["active"]},
        "created_at": {"type": "string", "format": "date-time"},
        "primary_account": {"type": "string"},
        "accounts": {"type": "array", "items": _ref("Account")},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "resolved_from_alias": {"type": "string",
                                "description": "Present when the sub asked for was an alias."},
        "merged_sub": {"type": "string",
                       "description": "After a link: the absorbed identity's sub, now an alias."},
        "locked": _ref("Lock")}},
    "Lock": {"type": ["object", "null"], "required": ["at", "by", "reason"], "description": (
        "null unless the helpdesk locked the identity: no login anywhere, no access."),
        "properties": {"at": {"type": "string", "format": "date-time"},
                       "by": {"type": "string"}, "reason": {"type": "string"}}},
    "LockChanged": {"type": "object", "required": [
        "sub", "locked", "sessions_ended", "refresh_tokens_revoked", "access_tokens_revoked",
        "jobs"], "properties": {
        "sub": {"type": "string"}, "locked": _ref("Lock"),
        "sessions_ended": {"type": "integer"}, "refresh_tokens_revoked": {"type": "integer"},
        "access_tokens_revoked": {"type": "integer"},
        "jobs": {"type": "array", "items": {"type": "integer"},
                 "description": "The delivery jobs queued for the grants that changed."}}},
    "Access": {"type": "object", "required": ["person", "grants"], "properties": {
        "person": {"type": "object", "required": ["campus_id", "sub"], "properties": {
            "campus_id": {"type": "string"}, "sub": {"type": "string"}}},
        "grants": {"type": "array", "items": {
            "type": "object", "required": ["resource", "state", "since", "until", "because"],
            "properties": {
                "resource": {"type": "string"},
                "state": {"type": "string", "enum": ["active", "grace", "ended"]},
                "since": {"type": "string", "format": "date-time"},
                "until": {"type": ["string", "null"], "format": "date-time",
                          "description": "null while open; the grace end, or when it ended."},
                "because": {"type": "array", "items": {
                    "type": "object", "required": ["policy", "account"], "properties": {
                        "policy": {"type": "string"},
                        "account": {"type": "string", "description": (
                            "user@scope; for a helpdesk:ORG client another organization's "
                            "account is named by its organization alone.")}}}}}}}}},
    "Unlinked": {"type": "object", "required": ["identity", "new_identity"], "properties": {
        "identity": _ref("Identity"), "new_identity": _ref("Identity")}},
    "Proposal": {"type": "object", "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
        "rule": {"type": "string"},
        "reason": {"type": "string", "enum": ["propose_rule", "several_matches", "merge_required",
                                                     "staff_role", "untrusted_directory"]},
        "account": {"type": "string"}, "identity": {"type": "string"},
        "candidate_identity": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}, "decided_at": _NULLABLE_STR}},
    "AuditEvent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "type": {"type": "string"}, "actor": {"type": "string"},
        "organization": _NULLABLE_STR, "client_id": _NULLABLE_STR,
        "details": {"type": "object"},
        "request_id": {**_NULLABLE_STR, "description": (
            "The id of the request, job or command that wrote the event, as in its log lines "
            "and the response's X-Request-ID; null for events older than it.")}}},
    "CardReissued": {"type": "object",
                     "required": ["card_number", "previous_card_number", "jobs"], "properties": {
        "card_number": {"type": "string", "pattern": "^[1-9][0-9]{11}$",
                        "description": "The new number (12 digits, the last a Damm check digit)."},
        "previous_card_number": {"type": ["string", "null"], "description": (
            "The number revoked; null when the person had library access but no card yet.")},
        "jobs": {"type": "array", "items": {"type": "integer"}, "description": (
            "The delivery jobs queued: one per connector of each library resource held.")}}},
    "IdentityPage": _page("IdentitySummary"),
    "ProposalPage": _page("Proposal"),
    "AuditPage": _page("AuditEvent"),
}

_PATHS: dict[str, Any] = {
    "/identities": {"get": {
        "operationId": "searchIdentities",
        "summary": "Find identities by name, username (ivanov or ivanov@tpu.ru), e-mail, "
                   "campus_id, sub or alias sub; each word of a name a prefix of a word of "
                   "one account's names, e-mail or username.",
        "parameters": [_param("q", "query", {"type": "string", "minLength": 1, "maxLength": 200},
                              required=True), _LIMIT, _CURSOR],
        "responses": {**_ok("IdentityPage"), **_errors("401", "403", "422")}}},
    "/identities/{sub}": {"get": {
        "operationId": "showIdentity",
        "summary": "An identity with its accounts, primary account and aliases.",
        "parameters": [_SUB],
        "responses": {**_ok("Identity"), **_errors("401", "403", "404")}}},
    "/identities/{sub}/access": {"get": {
        "operationId": "showAccess",
        "summary": "The identity's access grants: each resource, its state, since and until "
                   "when, and every policy and account that grants it (as idp access explain).",
        "parameters": [_SUB],
        "responses": {**_ok("Access"), **_errors("401", "403", "404")}}},
    "/identities/{sub}/card/reissue": {"post": {
        "operationId": "reissueCard",
        "summary": "Re-issue a lost campus card: the old number revoked, a new one issued, "
                   "both audited, and each library the person holds told both numbers. 409 "
                   "when the person has neither an active card nor library access.",
        "parameters": [_SUB],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("Reason")}}},
        "responses": {**_ok("CardReissued"), **_errors("400", "401", "403", "404", "409", "422")}}},
    **{f"/identities/{{sub}}/{change}": {"post": {
        "operationId": f"{change}Identity",
        "summary": ("Lock the identity: no login anywhere, its sessions and tokens ended, its "
                    "access grants ended (connectors told). 409 when already locked."
                    if change == "lock" else
                    "Unlock the identity: its access grants recomputed. 409 when not locked."),
        "parameters": [_SUB],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("Reason")}}},
        "responses": {**_ok("LockChanged"), **_errors("400", "401", "403", "404", "409", "422")}}}
       for change in ("lock", "unlock")},
    "/identities/{sub}/accounts": {"post": {
        "operationId": "linkAccount",
        "summary": "Link an account; its identity, when it has another one, is merged into "
                   "this one, which keeps its sub.",
        "parameters": [_SUB],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("LinkRequest")}}},
        "responses": {**_ok("Identity"), **_errors("400", "401", "403", "404", "409", "422")}}},
    "/identities/{sub}/accounts/{account}": {"delete": {
        "operationId": "unlinkAccount",
        "summary": "Move an account to a new identity (new sub); the last account cannot go.",
        "parameters": [_SUB, _param("account", "path", {"type": "string"}, required=True,
                                    description="organization:username"),
                       _param("reason", "query", {"type": "string", "maxLength": 500},
                              description="The reason, when not given in the body.")],
        "requestBody": _REASON_BODY,
        "responses": {**_ok("Unlinked"), **_errors("400", "401", "403", "404", "409", "422")}}},
    "/proposals": {"get": {
        "operationId": "listProposals",
        "summary": "The review queue.",
        "parameters": [_param("status", "query", {"type": "string", "default": "pending",
                                                  "enum": ["pending", "approved", "rejected", "all"]}),
                       _LIMIT, _CURSOR],
        "responses": {**_ok("ProposalPage"), **_errors("401", "403", "422")}}},
    **{f"/proposals/{{id}}/{decision}": {"post": {
        "operationId": f"{decision}Proposal",
        "summary": f"{decision.capitalize()} a pending proposal"
                   + (" (merging the two identities)." if decision == "approve" else "."),
        "parameters": [_param("id", "path", {"type": "integer"}, required=True)],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("Reason")}}},
        "responses": {**_ok("Proposal"), **_errors("400", "401", "403", "404", "409", "422")}}}
       for decision in ("approve", "reject")},
    "/audit": {"get": {
        "operationId": "auditTrail",
        "summary": "An identity's audit trail, its aliases' included, newest first.",
        "parameters": [_param("sub", "query", {"type": "string", "maxLength": 64}, required=True),
                       _LIMIT, _CURSOR],
        "responses": {**_ok("AuditPage"), **_errors("401", "403", "404", "422")}}},
}


def openapi_document(issuer: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Campus ID helpdesk and client management API", "version": "1"},
        "servers": [{"url": f"{issuer}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {**_PATHS, **DELIVERY_PATHS, **CLIENT_PATHS},
        "components": {
            "schemas": {**_SCHEMAS, **DELIVERY_SCHEMAS, **CLIENT_SCHEMAS},
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An access token of the client credentials grant, issued by "
                               "this provider to a client with the helpdesk or helpdesk:ORG role "
                               "(/identities, /proposals, /audit; /deliveries: helpdesk only) or "
                               "the consortium_admin or "
                               "org_admin:ORG role (/clients)."}},
        },
    }
