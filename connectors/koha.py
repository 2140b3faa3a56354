"""``type = "koha"``: a library grant is a patron in Koha (REST ``/api/v1/patrons``).

A grant finds the patron whose ``userid`` is the campus id (``GET /patrons?q=`` with an exact
match; the plain ``?userid=`` filter matches substrings by default) and updates it with PUT, or
creates it with POST. A POST that Koha refuses because the userid is taken (400 ``Problem with
<userid>``, or 409 ``Duplicate ID`` with ``conflict: userid`` when two inserts raced) adopts
the patron that holds it; a card number held by another patron (409 ``Duplicate ID``,
``conflict: cardnumber``) is a dead letter with Koha's words, as a librarian must settle it.
A re-issued card is the same update: the patron gets the new ``cardnumber`` and the old one no
longer finds anybody. A revoke sets ``expiry_date`` in the past (Koha has no REST call for
restrictions, and DELETE is refused while the patron has loans); a patron already expired is
left alone and a patron that does not exist needs nothing. One Koha serving several resources
keeps the patron while the person holds any of them (``Delivery.held``): a revoke with another
still held changes nothing, and a grant with an end date does not shorten an open one.

Options: ``url`` (Koha's base; the connector adds ``/api/v1``), ``library_id``,
``category_id``, ``category_ids`` (affiliation -> category, first match in the table's order
wins), OAuth2 ``client_id`` and ``client_secret`` (from ``client_secret_file``) or Basic
``user`` and ``password`` (from ``password_file``), ``timeout_s`` (all the calls of one
delivery, default 20) and ``open_expiry_days`` (default 1826). 401 and 403 are dead letters
(credentials or permissions: ``borrowers`` ``edit_borrowers`` is needed), so is any other 4xx;
5xx, 408, 429, timeouts and refused connections are tried again later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors import koha_patron
from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.koha_client import Basic, Credentials, OAuth2, Reply, Session, TokenCache, describe
from connectors.options import timeout_problem, unknown_keys, url_problem

DEFAULT_TIMEOUT_S = 20.0
MAX_TIMEOUT_S = 120.0
DEFAULT_OPEN_EXPIRY_DAYS = 1826
_KEYS = frozenset({"url", "library_id", "category_id", "category_ids", "client_id",
                   "client_secret", "user", "password", "timeout_s", "open_expiry_days"})
_OAUTH = ("client_id", "client_secret")
_BASIC = ("user", "password")


def problems(options: Mapping[str, Any]) -> list[str]:
    """Every problem with ``options``, each as ``key: message`` (secrets never quoted)."""
    found = unknown_keys(options, _KEYS)
    url = options.get("url")
    if (problem := "required" if url is None else url_problem(url, bare=True)) is not None:
        found.append(f"url: {problem}")
    for key in ("library_id", "category_id"):
        if not _text(options.get(key)):
            found.append(f"{key}: required, Koha's code for it (a non-empty string)")
    mapping = options.get("category_ids", {})
    if not isinstance(mapping, Mapping) or not all(
            _text(k) and _text(v) for k, v in mapping.items()):
        found.append("category_ids: must be a table of affiliation = \"CATEGORY\" strings")
    found.extend(_auth_problems(options))
    if (problem := timeout_problem(options, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S)) is not None:
        found.append(problem)
    days = options.get("open_expiry_days", DEFAULT_OPEN_EXPIRY_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36600:
        found.append("open_expiry_days: must be a whole number of days from 1 to 36600")
    return found


def _auth_problems(options: Mapping[str, Any]) -> list[str]:
    oauth = [k for k in _OAUTH if k in options]
    basic = [k for k in _BASIC if k in options]
    if oauth and basic:
        return ["client_id: give either client_id and client_secret_file (OAuth2) or user and "
                "password_file (Basic), not both"]
    if not oauth and not basic:
        return ["client_id: required (with client_secret_file), or user and password_file"]
    keys = _OAUTH if oauth else _BASIC
    found = []
    for key in keys:
        if key not in options:
            found.append(f"{key}: required with {keys[0] if key != keys[0] else keys[1]}"
                         + (" (from a _file)" if key in ("client_secret", "password") else ""))
        elif not _text(options[key]):
            found.append(f"{key}: must be a non-empty string")
    return found


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""




def create(name: str, options: Mapping[str, Any]) -> KohaConnector:
    """The connector for options that ``problems`` accepts (``ValueError`` otherwise)."""
    found = problems(options)
    if found:
        raise ValueError(f"connector {name!r}: " + "; ".join(found))
    credentials: Credentials = (
        OAuth2(options["client_id"], options["client_secret"]) if "client_id" in options
        else Basic(options["user"], options["password"]))
    return KohaConnector(
        name, options["url"], credentials, library_id=options["library_id"],
        category_id=options["category_id"],
        category_ids=dict(options.get("category_ids", {})),
        timeout_s=float(options.get("timeout_s", DEFAULT_TIMEOUT_S)),
        open_expiry_days=int(options.get("open_expiry_days", DEFAULT_OPEN_EXPIRY_DAYS)))


class KohaConnector:
    """Keeps one patron per campus id in one Koha (credentials kept out of ``repr``)."""

    def __init__(self, name: str, url: str, credentials: Credentials, *, library_id: str,
                 category_id: str, category_ids: Mapping[str, str], timeout_s: float,
                 open_expiry_days: int) -> None:
        self._name = name
        self.url = url
        self.api = url.rstrip("/") + "/api/v1"
        self._credentials = credentials
        self._tokens = TokenCache()
        self.library_id = library_id
        self.category_id = category_id
        self.category_ids = dict(category_ids)
        self.timeout_s = timeout_s
        self.open_expiry_days = open_expiry_days

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"KohaConnector(name={self._name!r}, url={self.url!r})"

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        """One attempt; all its calls within the lesser of ``timeout_s`` and ``deadline_s``."""
        budget = min(self.timeout_s, deadline_s)
        if budget <= 0:
            raise RetryLater("no time was left for the attempt")
        campus_id = delivery.person.get("campus_id")
        if not isinstance(campus_id, str) or not campus_id:
            raise NeverWorks("the delivery names no campus id")
        others = set(delivery.held) - {delivery.resource}  # other resources of this Koha
        if delivery.kind is DeliveryKind.REVOKE and others:
            return  # the patron stays for what the person still holds here
        session = Session(self.api, self._credentials, self._tokens, time.monotonic() + budget)
        today = datetime.now(UTC).date()
        found = find(session, campus_id)
        if delivery.kind is DeliveryKind.REVOKE:
            if found is not None and (body := koha_patron.revoked(found, today)) is not None:
                write(session, "PUT", f"/patrons/{found['patron_id']}", body)
            return
        grant = {**delivery.grant, "until": None} if others else delivery.grant
        want = koha_patron.wanted(
            delivery.person, library_id=self.library_id,
            category_id=koha_patron.category_for(delivery.person.get("affiliations") or (),
                                                 self.category_id, self.category_ids),
            expiry_date=koha_patron.expiry_for_grant(grant, today, self.open_expiry_days))
        if found is None:
            found = create_or_adopt(session, campus_id, want)
        if found is not None and (body := koha_patron.update_of(found, want)) is not None:
            write(session, "PUT", f"/patrons/{found['patron_id']}", body)


def create_or_adopt(session: Session, campus_id: str,
                    want: Mapping[str, Any]) -> dict[str, Any] | None:
    """POST the patron (None: created), or the patron that holds its userid already."""
    reply = session.call("POST", "/patrons", body=want)
    if 200 <= reply.status < 300:
        return None
    if not userid_taken(reply, campus_id):
        refuse(reply, want)
    found = find(session, campus_id)
    if found is None:
        raise NeverWorks(f"Koha refused userid {campus_id} and has no patron with it: "
                         f"{describe(reply)}")
    return found

def find(session: Session, campus_id: str) -> dict[str, Any] | None:
    """The patron whose ``userid`` is ``campus_id`` exactly, if any."""
    query = {"q": json.dumps({"userid": campus_id}), "_per_page": "2"}
    reply = session.call("GET", "/patrons", query=query)
    if reply.status != 200:
        raise NeverWorks(f"Koha refused to look the patron up: {describe(reply)}")
    if not isinstance(reply.body, list) or not all(isinstance(p, dict) for p in reply.body):
        raise RetryLater(f"Koha's patron list was cut short or is not a list: {reply.text[:80]}")
    if len(reply.body) > 1:
        raise NeverWorks(f"Koha has more than one patron with userid {campus_id}")
    if not reply.body:
        return None
    patron: dict[str, Any] = reply.body[0]
    if not isinstance(patron.get("patron_id"), int):
        raise NeverWorks("Koha's patron has no patron_id")
    return patron


def write(session: Session, method: str, path: str, body: Mapping[str, Any]) -> None:
    reply = session.call(method, path, body=body)
    if 200 <= reply.status < 300:  # PUT: 200, or 204 "No changes have been made"
        return
    if reply.status == 404:
        raise RetryLater(f"the patron went away meanwhile: {describe(reply)}")
    refuse(reply, body)


def userid_taken(reply: Reply, campus_id: str) -> bool:
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status == 400:
        return body.get("error") == f"Problem with {campus_id}"
    return reply.status == 409 and _key(body.get("conflict")) == "userid"


def refuse(reply: Reply, body: Mapping[str, Any]) -> None:
    """Raise what a 4xx answer to a write means (5xx never gets here)."""
    answer = reply.body if isinstance(reply.body, dict) else {}
    if reply.status == 409 and _key(answer.get("conflict")) == "cardnumber":
        raise NeverWorks(f"card number {body.get('cardnumber')} belongs to another patron in "
                         f"Koha: {describe(reply)}")
    raise NeverWorks(f"Koha refused the patron: {describe(reply)}")


def _key(conflict: object) -> str:
    """MariaDB names the key ``cardnumber``, MySQL 8 ``borrowers.cardnumber``."""
    return conflict.rsplit(".", 1)[-1] if isinstance(conflict, str) else ""
