"""A stand-in Koha on 127.0.0.1 for the Koha connector's tests: the patrons part of Koha's REST
API as Koha publishes and implements it (Koha cannot run here).

Followed, from Koha-Community/Koha (GPL-3.0; nothing copied but names and messages):
- ``api/v1/swagger/paths/patrons.yaml`` (stored at 0e23a877694cff38e48422e26d4bdb8047c0226a):
  ``GET /patrons`` with one query parameter per field, compared with ``_match`` (default
  ``contains``, Koha/REST/Plugin/Query.pm ``build_query_params``) and the JSON filter ``q``
  (an exact match; MySQL's collation makes it case-insensitive), ``_page``/``_per_page``;
  ``POST /patrons`` 201 with ``Location``; ``PUT``, ``GET`` and ``DELETE /patrons/{patron_id}``.
- ``definitions/patron.yaml``: the body checks of tests/support/koha_schema.py.
- ``Koha/REST/V1/Patrons.pm`` and ``Koha/Patron.pm`` ``store`` (Koha 24.x): the category is
  checked first (400 ``Given category_id does not exist``), then the userid: taken by another
  patron gives 400 ``Problem with <userid>`` (``has_valid_userid``); then the insert, where an
  unknown library gives 400 ``Given library_id does not exist`` and a taken cardnumber 409
  ``{"error": "Duplicate ID", "conflict": "cardnumber"}`` (``borrowers.cardnumber`` on MySQL 8:
  ``mysql8_keys``). ``race_userid`` plays two inserts racing past the userid check, which the
  unique key then refuses with 409 ``conflict: userid``. PUT changes only the fields sent
  (``set_from_api``) and answers 200 with the patron; DELETE with loans is 409
  ``has_checkouts``. t/db_dependent/api/v1/patrons.t (openfifth/koha 80c61859) asserts these.
- ``Koha/REST/V1/Auth.pm``: 401 ``Authentication failure.`` (no or a bad bearer token), 401
  ``Basic authentication disabled`` (``RESTBasicAuth`` off), 403 ``Invalid password`` (Basic),
  403 ``Authorization failure. Missing required permission(s).``; an unknown query parameter
  400 with a bare array ``[{"path": "/query/x", "message": "Malformed query string"}]``.
- ``paths/oauth.yaml`` and ``Koha/REST/V1/OAuth.pm``, ``Koha/OAuth.pm``: ``POST /oauth/token``
  (form) gives ``{access_token, token_type: Bearer, expires_in: 3600}``; 400 ``Unimplemented
  grant type`` when ``RESTOAuth2ClientCredentials`` is off; 403 ``unauthorized_client`` or
  ``access_denied``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import koha_schema

RESERVED = ("_match", "_order_by", "_page", "_per_page", "q")
LIST_FILTERS = frozenset({
    "patron_id", "cardnumber", "surname", "firstname", "title", "other_name", "initials",
    "street_number", "street_type", "address", "address2", "city", "state", "postal_code",
    "country", "email", "phone", "mobile", "fax", "secondary_email", "secondary_phone",
    "altaddress_street_number", "altaddress_street_type", "altaddress_address",
    "altaddress_address2", "altaddress_city", "altaddress_state", "altaddress_postal_code",
    "altaddress_country", "altaddress_email", "altaddress_phone", "date_of_birth", "library_id",
    "category_id", "date_enrolled", "expiry_date", "incorrect_address", "patron_card_lost",
    "restricted", "guarantor_id", "staff_notes", "relationship_type", "gender", "userid",
    "opac_notes", "altaddress_notes", "statistics_1", "statistics_2", "autorenew_checkouts",
    "altcontact_firstname", "altcontact_surname", "altcontact_address", "altcontact_address2",
    "altcontact_city", "altcontact_state", "altcontact_postal_code", "altcontact_country",
    "altcontact_phone", "sms_number", "sms_provider_id", "privacy",
    "privacy_guarantor_checkouts", "check_previous_checkout", "updated_on", "last_seen", "lang",
    "login_attempts"})
EMBED_ONLY = ("extended_attributes", "checkouts_count", "overdues_count", "account_balance",
              "library", "_strings")
Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth: str | None  # "bearer", "basic" or None


@dataclass
class KohaState:
    libraries: set[str] = field(default_factory=lambda: {"CPL", "TSU"})
    categories: set[str] = field(default_factory=lambda: {"PT", "ST", "STAFF"})
    clients: dict[str, str] = field(default_factory=dict)  # API keys: client_id -> secret
    users: dict[str, str] = field(default_factory=dict)  # staff userid -> password
    unprivileged: set[str] = field(default_factory=set)  # client ids / userids lacking borrowers
    basic_auth: bool = True  # RESTBasicAuth
    client_credentials: bool = True  # RESTOAuth2ClientCredentials
    tokens_refused: bool = False  # e.g. Net::OAuth2::AuthorizationServer missing: every bearer 401
    mysql8_keys: bool = False
    race_userid: bool = False
    patrons: dict[int, dict[str, Any]] = field(default_factory=dict)
    checkouts: set[int] = field(default_factory=set)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> client, until
    failures: list[tuple[int, Any]] = field(default_factory=list)  # next /patrons answers
    seen: list[Seen] = field(default_factory=list)
    next_id: int = 1


class KohaStandIn:
    def __init__(self, state: KohaState | None = None) -> None:
        self.state = state or KohaState()
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with standin.lock:
                    status, body, extra = standin.answer(method, self.path, dict(self.headers),
                                                         raw)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.handler = Handler
        self.port = 0
        self.start()

    def start(self) -> KohaStandIn:
        """Listen (again: on the same port, with the same patrons, after ``close``)."""
        ThreadingHTTPServer.daemon_threads = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop listening: Koha is down (connections are refused)."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_patron(self, **fields: Any) -> dict[str, Any]:
        """A patron a librarian made (defaults filled as Koha's store does)."""
        with self.lock:
            return self._insert({"library_id": "CPL", "category_id": "PT", **fields})

    def expire_tokens(self) -> None:
        with self.lock:
            self.state.tokens.clear()

    # -- dispatch -------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path
        if path == "/api/v1/oauth/token" and method == "POST":
            self.state.seen.append(Seen(method, path, query, None, None))
            return self._token(parse_qs(raw.decode("utf-8", "replace")))
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        auth_kind, refused = self._authenticate(headers.get("Authorization")
                                                or headers.get("authorization"))
        self.state.seen.append(Seen(method, path, query, body, auth_kind))
        if refused is not None:
            return refused
        if not path.startswith("/api/v1/patrons"):
            return 404, {"error": "Not found"}, {}
        if self.state.failures:
            status, failure = self.state.failures.pop(0)
            return status, failure, {}
        if path == "/api/v1/patrons":
            if method == "GET":
                return self._list(query)
            if method == "POST":
                return self._add(body)
        elif path.startswith("/api/v1/patrons/") and path.count("/") == 4:
            return self._one(method, path.rsplit("/", 1)[1], query, body)
        return 404, {"error": "Not found"}, {}

    def _authenticate(self, header: str | None) -> tuple[str | None, Answer | None]:
        state = self.state
        if header and header.startswith("Bearer "):
            known = state.tokens.get(header[7:])
            if known is None or known[1] < time.time() or state.tokens_refused:
                return "bearer", (401, {"error": "Authentication failure."}, {})
            principal = known[0]
            kind = "bearer"
        elif header and header.startswith("Basic "):
            if not state.basic_auth:
                return "basic", (401, {"error": "Basic authentication disabled"}, {})
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return "basic", (401, {"error": "Authentication failure."}, {})
            if state.users.get(user) != password or not password:
                return "basic", (403, {"error": "Invalid password",
                                       "required_permissions": None}, {})
            principal, kind = user, "basic"
        else:
            return None, (401, {"error": "Authentication failure."}, {})
        if principal in state.unprivileged:
            return kind, (403, {"error": "Authorization failure. Missing required permission(s).",
                                "required_permissions": {"borrowers": "edit_borrowers"}}, {})
        return kind, None

    def _token(self, form: dict[str, list[str]]) -> Answer:
        grant = form.get("grant_type", [None])[0]
        if grant is None:
            return 400, {"errors": [{"message": "Missing property.", "path": "/grant_type"}],
                         "status": 400}, {}
        if grant != "client_credentials" or not self.state.client_credentials:
            return 400, {"error": "Unimplemented grant type"}, {}
        client_id = form.get("client_id", [""])[0]
        if client_id not in self.state.clients:
            return 403, {"error": "unauthorized_client"}, {}
        if form.get("client_secret", [""])[0] != self.state.clients[client_id]:
            return 403, {"error": "access_denied"}, {}
        token = secrets.token_hex(20)
        self.state.tokens[token] = (client_id, time.time() + 3600)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, {}

    # -- patrons --------------------------------------------------------------------------

    def _list(self, query: dict[str, list[str]]) -> Answer:
        unknown = [{"path": f"/query/{name}", "message": "Malformed query string"}
                   for name in query if name not in LIST_FILTERS and name not in RESERVED]
        if unknown:
            return 400, unknown, {}
        match = query.get("_match", ["contains"])[0]
        found = [p for p in self.state.patrons.values()
                 if all(_like(p.get(name), values[0], match) for name, values in query.items()
                        if name in LIST_FILTERS)
                 and all(_q_matches(p, q) for q in query.get("q", []))]
        per_page = int(query.get("_per_page", ["20"])[0])
        page = int(query.get("_page", ["1"])[0])
        shown = found[(page - 1) * per_page: page * per_page] if per_page > 0 else found
        return 200, [_to_api(p) for p in shown], {"X-Total-Count": str(len(found))}

    def _add(self, body: Any) -> Answer:
        if errors := koha_schema.errors_in(body):
            return 400, {"errors": errors, "status": 400}, {}
        refused = self._refusal(body, None)
        if refused is not None:
            return refused
        patron = self._insert(body)
        return 201, _to_api(patron), {"Location": f"/api/v1/patrons/{patron['patron_id']}"}

    def _one(self, method: str, raw_id: str, query: dict[str, list[str]], body: Any) -> Answer:
        if query:
            return 400, [{"path": f"/query/{name}", "message": "Malformed query string"}
                         for name in query], {}
        if not raw_id.lstrip("-").isdigit():
            return 400, {"errors": [{"message": "Expected integer - got string.",
                                     "path": "/patron_id"}], "status": 400}, {}
        patron = self.state.patrons.get(int(raw_id))
        if method == "GET":
            return (200, _to_api(patron), {}) if patron else (404, {"error": "Patron not found."}, {})
        if method == "DELETE":
            if patron is None:
                return 404, {"error": "Patron not found"}, {}
            if patron["patron_id"] in self.state.checkouts:
                return 409, {"error": "Pending checkouts prevent deletion",
                             "error_code": "has_checkouts"}, {}
            del self.state.patrons[patron["patron_id"]]
            return 204, None, {}
        if method != "PUT":
            return 404, {"error": "Not found"}, {}
        if errors := koha_schema.errors_in(body):
            return 400, {"errors": errors, "status": 400}, {}
        if patron is None:
            return 404, {"error": "Patron not found"}, {}
        refused = self._refusal(body, patron["patron_id"])
        if refused is not None:
            return refused
        patron.update(body)
        patron["updated_on"] = _now()
        return 200, _to_api(patron), {}

    def _refusal(self, body: dict[str, Any], own_id: int | None) -> Answer | None:
        """Koha::Patron->store's checks, in its order, then the database's."""
        if body["category_id"] not in self.state.categories:
            return 400, {"error": "Given category_id does not exist"}, {}
        userid = body.get("userid")
        others = [p for p in self.state.patrons.values() if p["patron_id"] != own_id]
        if userid and not self.state.race_userid and any(
                _same(p.get("userid"), userid) for p in others):
            return 400, {"error": f"Problem with {userid}"}, {}
        if body["library_id"] not in self.state.libraries:
            return 400, {"error": "Given library_id does not exist"}, {}
        for key in ("cardnumber", "userid"):
            if body.get(key) and any(_same(p.get(key), body[key]) for p in others):
                name = f"borrowers.{key}" if self.state.mysql8_keys else key
                return 409, {"error": "Duplicate ID", "conflict": name}, {}
        return None

    def _insert(self, fields: dict[str, Any]) -> dict[str, Any]:
        today = datetime.now(UTC).date()
        patron: dict[str, Any] = {name: None for name in koha_schema.PATRON
                                  if name not in EMBED_ONLY}
        patron.update({"date_enrolled": today.isoformat(), "restricted": False,
                       "anonymized": False, "incorrect_address": False, "patron_card_lost": False,
                       "autorenew_checkouts": False, "privacy": 1,
                       "privacy_guarantor_checkouts": 0, "privacy_guarantor_fines": False,
                       "check_previous_checkout": "inherit", "lang": "default",
                       "login_attempts": 0, "protected": False})
        patron.update(fields)
        if not patron.get("date_enrolled"):
            patron["date_enrolled"] = today.isoformat()
        if not patron.get("userid"):  # generate_userid: firstname.surname
            patron["userid"] = ".".join(str(x).lower() for x in
                                        (patron.get("firstname"), patron["surname"]) if x)
        if not patron.get("expiry_date"):  # the category's enrolment period
            patron["expiry_date"] = _plus_months(today, 12).isoformat()
        patron["patron_id"] = self.state.next_id
        patron["updated_on"] = _now()
        self.state.next_id += 1
        self.state.patrons[patron["patron_id"]] = patron
        return patron


def _to_api(patron: dict[str, Any]) -> dict[str, Any]:
    return dict(patron)


def _same(a: object, b: object) -> bool:
    """MySQL's case-insensitive collation on borrowers' text columns."""
    return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()


def _like(value: object, wanted: str, match: str) -> bool:
    text = "" if value is None else str(value).casefold()
    wanted = wanted.casefold()
    if match == "exact":
        return text == wanted
    if match == "starts_with":
        return text.startswith(wanted)
    if match == "ends_with":
        return text.endswith(wanted)
    return wanted in text


def _q_matches(patron: dict[str, Any], q: str) -> bool:
    filters = json.loads(q)
    for name, wanted in filters.items():
        value = patron.get(name)
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(_same(value, w) if isinstance(w, str) else value == w for w in options):
            return False
    return True


def _plus_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, 28))


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()
