"""``type = "scim"``: a SCIM 2.0 User per person at a library system (RFC 7643, RFC 7644).

Options: ``url`` (the SCIM base, e.g. ``https://lib.example/scim/v2``; ``http`` only with
``allow_insecure = true``, as the bearer token travels in every request), ``token`` (what the
operator's ``token_file`` holds), ``timeout_s`` (default 10, at most 120: the whole delivery,
all its requests together) and ``organization_names`` (a table from organization id to the
name sent as the home organization; an id without one is sent as it is).

A grant finds the User by ``externalId`` (RFC 7644 section 3.4.2.2) and replaces it whole with
PUT (section 3.5.1), or creates it with POST (section 3.3); a POST answered 409 ``uniqueness``
means it exists after all (another attempt of the job, or a User the library made by hand with
the campus id as ``userName``): it is found again and adopted with a PUT, never made twice. A
revoke sets ``active`` to false with PATCH (section 3.5.2) unless the person still holds another
resource of this connector; a person the server does not know needs nothing. ``list_granted``
pages through the active Users (section 3.4.2.4) for the reconcile pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from connectors import scim_resource
from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.options import timeout_problem, unknown_keys, url_problem
from connectors.scim_calls import call, failure, unreadable

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
PAGE_SIZE = 100
LIST_KEEP_BYTES = 8 * 1024 * 1024
_KEYS = frozenset({"url", "token", "timeout_s", "allow_insecure", "organization_names"})


def problems(options: Mapping[str, Any]) -> list[str]:
    """Every problem with ``options``, each as ``key: message`` (the token never quoted)."""
    found = unknown_keys(options, _KEYS)
    insecure = options.get("allow_insecure", False)
    if not isinstance(insecure, bool):
        found.append("allow_insecure: must be true or false")
    url = options.get("url")
    if url is None:
        found.append("url: required")
    elif (problem := url_problem(
            url, schemes=("http", "https") if insecure is True else ("https",), bare=True,
            bad="must be an https URL (http only with allow_insecure = true)")) is not None:
        found.append(f"url: {problem}")
    token = options.get("token")
    if token is None:
        found.append("token: required (token_file: a file holding the bearer token)")
    elif not isinstance(token, str) or not token or not token.isprintable() or " " in token:
        found.append("token: must be one line of printable characters without spaces")
    if (problem := timeout_problem(options, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S)) is not None:
        found.append(problem)
    names = options.get("organization_names", {})
    if not isinstance(names, Mapping) or not all(
            isinstance(v, str) and v.strip() for v in names.values()):
        found.append("organization_names: must be a table of organization id = \"name\"")
    return found


def create(name: str, options: Mapping[str, Any]) -> ScimConnector:
    """The connector for options that ``problems`` accepts (``ValueError`` otherwise)."""
    found = problems(options)
    if found:
        raise ValueError(f"connector {name!r}: " + "; ".join(found))
    return ScimConnector(name, options["url"], options["token"],
                         float(options.get("timeout_s", DEFAULT_TIMEOUT_S)),
                         dict(options.get("organization_names", {})))




class ScimConnector:
    """Provisions Users at one SCIM service provider; the token is kept out of ``repr``."""

    def __init__(self, name: str, url: str, token: str, timeout_s: float,
                 organization_names: dict[str, str]) -> None:
        self._name = name
        self.url = url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        self.organization_names = organization_names

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"ScimConnector(name={self._name!r}, url={self.url!r})"

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        """One attempt: all its requests within the lesser of ``timeout_s`` and ``deadline_s``."""
        deadline = time.monotonic() + min(self.timeout_s, deadline_s)
        campus_id = delivery.person.get("campus_id")
        if not isinstance(campus_id, str) or not campus_id:
            raise NeverWorks("the delivery names no campus id")
        if delivery.kind is DeliveryKind.GRANT or delivery.held:
            # A revoke while another resource of this connector is held keeps the User active.
            self._grant(delivery.person, campus_id, deadline)
        else:
            self._revoke(campus_id, deadline)

    def _grant(self, person: Mapping[str, Any], campus_id: str, deadline: float) -> None:
        document = scim_resource.user(person, self.organization_names)
        found = self._find("externalId", campus_id, deadline)
        if found is not None:
            self._replace(found, document, deadline)
            return
        reply = call("create", "POST", f"{self.url}/Users", self._token, deadline,
                     document=document)
        if reply.ok:
            return
        if reply.status != 409:
            raise failure("create", reply)
        # RFC 7644 section 3.3: 409 is a uniqueness clash. Adopt the User it clashed with:
        # ours by externalId, or one the library made with the campus id as userName and no
        # externalId of another system.
        found = self._find("externalId", campus_id, deadline)
        if found is None:
            found = self._find("userName", campus_id, deadline)
            if found is None:
                raise failure("create", reply)
            if found.get("externalId") not in (None, "", campus_id):
                raise NeverWorks(f"create: HTTP 409: userName {campus_id} is held by a User with "
                                 f"externalId {str(found['externalId'])[:80]!r}, not adopted")
        self._replace(found, document, deadline)

    def _replace(self, found: Mapping[str, Any], document: dict[str, Any], deadline: float) -> None:
        reply = call("replace", "PUT", self._location(found), self._token, deadline,
                     document=document)
        if reply.status == 404:
            raise RetryLater("replace: HTTP 404: the User was removed meanwhile; the next "
                             "attempt creates it")
        if not reply.ok:
            raise failure("replace", reply)

    def _revoke(self, campus_id: str, deadline: float) -> None:
        found = self._find("externalId", campus_id, deadline)
        if found is None or found.get("active") is False:
            return  # nothing there to take back
        reply = call("deactivate", "PATCH", self._location(found), self._token, deadline,
                     document=scim_resource.deactivation())
        if reply.ok or reply.status == 404:  # 404: removed meanwhile, which is as good
            return
        raise failure("deactivate", reply)

    def _find(self, attribute: str, value: str, deadline: float) -> dict[str, Any] | None:
        """The one User whose ``attribute`` equals ``value`` (checked here too: a server that
        ignored the filter must not make us adopt a stranger), or None."""
        what = f"find by {attribute}"
        query = urlencode({"filter": scim_resource.equals(attribute, value), "count": "2"},
                          quote_via=quote)
        reply = call(what, "GET", f"{self.url}/Users?{query}", self._token, deadline)
        if not reply.ok:
            raise failure(what, reply)
        try:
            resources, _total = scim_resource.listed(reply.body)
        except ValueError as error:
            raise unreadable(what, reply, str(error)) from None
        matching = [r for r in resources if r.get(attribute) == value]
        if len(matching) > 1:
            raise NeverWorks(f"{what}: {len(matching)} Users have {attribute} {value}; "
                             "merge them at the library, then retry the job")
        if matching and not isinstance(matching[0].get("id"), str):
            raise unreadable(what, reply, "the User has no id")
        return matching[0] if matching else None

    def _location(self, found: Mapping[str, Any]) -> str:
        # Built from our base and the id, never the server's meta.location: no request goes
        # to an address the other side names.
        return f"{self.url}/Users/{quote(str(found['id']), safe='')}"

    def list_granted(self, resource: str) -> Iterator[str]:
        """The externalIds of the active Users, page by page (each page within ``timeout_s``).

        Every resource of this connector shares one User per person, so the list is the same
        for each ``resource``. Raises ``RetryLater`` or ``NeverWorks`` as ``deliver`` does.
        """
        start, pages = 1, None
        while pages is None or pages > 0:
            query = urlencode({"filter": "active eq true", "startIndex": str(start),
                               "count": str(PAGE_SIZE)}, quote_via=quote)
            reply = call("list", "GET", f"{self.url}/Users?{query}", self._token,
                         time.monotonic() + self.timeout_s, keep_bytes=LIST_KEEP_BYTES)
            if not reply.ok:
                raise failure("list", reply)
            try:
                resources, total = scim_resource.listed(reply.body)
            except ValueError as error:
                raise unreadable("list", reply, str(error)) from None
            for found in resources:
                if isinstance(found.get("externalId"), str) and found["externalId"]:
                    yield found["externalId"]
            start += len(resources)
            # Never more pages than the first answer's total allows, even if a server
            # ignores startIndex; an empty page ends the listing.
            pages = (math.ceil(total / max(len(resources), 1)) if pages is None else pages) - 1
            if not resources or start > total:
                return
