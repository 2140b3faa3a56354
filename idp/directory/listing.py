"""Reading a whole organization directory for the directory sync: every entry the login's
user filter could find, read under the service account with paged searches (RFC 2696, the
``sync_page_size`` a page), mapped to accounts by the login's own rules (``presets``).

Disabled: Active Directory's ``userAccountControl`` (its ACCOUNTDISABLE bit), and entries
matching the organization's ``disabled_filter``, found by a paged search of their ids only
before the listing (the server evaluates the filter: no filter semantics are redone here).
Incremental: on Active Directory ``uSNChanged`` above the domain controller's
``highestCommittedUSN`` read before the previous listing (a mark names the DC: another DC's
numbers mean nothing, so a listing there is full); elsewhere ``modifyTimestamp >=`` the
previous mark, the latest timestamp seen (``>=``: entries changed in the mark's second come
again, which a sync takes as no change), but never later than the listing's start less an
allowance for the server's clock (``presets.CLOCK_SKEW_S``): an entry changed behind the
listing's cursor while it ran comes next time. A mark of another kind, or none, gives a full
listing, the only kind that shows who is gone.

A connection is borrowed from the directory's pool for one listing, given back when it ends and
closed when it fails or is abandoned. Each request waits ``timeout_s`` at most; any failure
raises ``DirectoryUnavailable`` from the iterator: the entries until then are not the
directory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

import ldap
from ldap.controls import SimplePagedResultsControl

from idp.directory import presets
from idp.directory.base import DirectoryEntry, DirectoryListing
from idp.errors import DirectoryUnavailable
from idp.settings import DirectorySettings

log = logging.getLogger(__name__)

MODIFY_TIMESTAMP = "modifyTimestamp"
USN_CHANGED = "uSNChanged"
_ROOT_DSE_USN = ("highestCommittedUSN", "dsServiceName")
_LIMIT_HINT = (" (the server limits what the service account may read: raise its size limit "
               "for paged searches, e.g. OpenLDAP's limits size.prtotal=unlimited)")


class ListingSource(Protocol):
    """What a listing needs of a directory (``LdapDirectory``)."""

    organization: str
    settings: DirectorySettings
    profile: presets.Profile

    def service_connection(self) -> AbstractContextManager[Any]:
        ...


def open_listing(source: ListingSource, since: str | None) -> DirectoryListing:
    """The listing of ``source``, incremental when ``since`` is a mark this server can continue.
    Only an Active Directory mark needs the server now (to see the same DC answers); the
    entries are read as they are iterated."""
    if source.profile.active_directory:
        usn = presets.parse_usn_mark(since)
        server = _root_dse(source)[1] if usn is not None else None
        continue_from = usn if usn is not None and usn[1] == server else None
        listing = DirectoryListing(entries=iter(()), incremental=continue_from is not None)
        listing.entries = _ad_entries(source, listing, continue_from)
    else:
        stamp = presets.parse_timestamp_mark(since)
        listing = DirectoryListing(entries=iter(()), incremental=stamp is not None)
        listing.entries = _ldap_entries(source, listing, stamp)
    return listing


def _ldap_entries(source: ListingSource, listing: DirectoryListing,
                  since: str | None) -> Iterator[DirectoryEntry]:
    started_at = datetime.now(UTC)
    changed = f"({MODIFY_TIMESTAMP}>={since})" if since else ""
    attributes = [*source.profile.requested_attributes, MODIFY_TIMESTAMP]
    latest: str | None = None
    with _failures(source) as progress, source.service_connection() as conn:
        disabled = _disabled_ids(source, conn, changed)
        for dn, attrs in _search(source, conn, changed, attributes, progress):
            for raw in attrs.get(MODIFY_TIMESTAMP.lower(), ())[:1]:
                text = raw.decode()
                fast = len(text) == 15 and text[-1] == "Z" and text[:14].isdigit()
                stamp = text if fast else presets.normalized_time(text)
                if stamp is not None and (latest is None or stamp > latest):
                    latest = stamp
            entry = _entry(source, listing, dn, attrs, disabled)
            if entry is not None:
                yield entry
    listing.mark = presets.timestamp_mark(latest, since, started_at)


def _ad_entries(source: ListingSource, listing: DirectoryListing,
                since: tuple[int, str] | None) -> Iterator[DirectoryEntry]:
    changed = f"({USN_CHANGED}>={since[0] + 1})" if since else ""
    with _failures(source) as progress, source.service_connection() as conn:
        highest, server = _read_root_dse(conn, source.settings.timeout_s)
        if since is not None and server != since[1]:
            raise DirectoryUnavailable(f"{source.organization}: another domain controller "
                                       "answered than the one the mark counts on")
        disabled = _disabled_ids(source, conn, changed)
        attributes = [*source.profile.requested_attributes, "objectClass"]
        for dn, attrs in _search(source, conn, changed, attributes, progress):
            if presets.ad_computer(attrs.get("objectclass", ())):
                continue
            entry = _entry(source, listing, dn, attrs, disabled)
            if entry is not None:
                yield entry
    listing.mark = presets.usn_mark(highest, server) if highest is not None and server else None


def _entry(source: ListingSource, listing: DirectoryListing, dn: str,
           attrs: dict[str, list[bytes]], disabled: set[str]) -> DirectoryEntry | None:
    try:
        account = presets.account_from_entry(source.organization, source.profile,
                                             source.settings.affiliation_map, attrs)
    except ValueError as exc:
        listing.skipped += 1
        log.debug("%s: the entry %r is no account: %s", source.organization, dn, exc)
        return None
    off = account.external_id in disabled or (
        source.profile.active_directory
        and presets.ad_account_disabled(attrs.get(presets.AD_ACCOUNT_CONTROL.lower(), [])))
    return DirectoryEntry(account=account, disabled=off)


def _disabled_ids(source: ListingSource, conn: Any, changed: str) -> set[str]:
    """The ids of the entries matching ``disabled_filter`` (among those changed, in an
    incremental listing): the server's answer, one paged search reading ids only."""
    if not source.settings.disabled_filter:
        return set()
    id_attr = source.profile.attributes["id"]
    found: set[str] = set()
    for _dn, attrs in _search(source, conn, changed + source.settings.disabled_filter, [id_attr]):
        for raw in attrs.get(id_attr.lower(), ())[:1]:
            try:
                found.add(presets.decode_id(id_attr, raw))
            except ValueError:
                continue
    return found


def _search(source: ListingSource, conn: Any, extra: str, attributes: Sequence[str],
            progress: list[int] | None = None) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
    """Every entry under base_dn that the listing filter (and ``extra``) selects, page after
    page, attribute names lower-cased; references to other servers are left out."""
    base = presets.listing_filter(source.profile.user_filter)
    filterstr = presets.and_filter(base, extra) if extra else base
    settings = source.settings
    cookie = b""
    while True:
        control = SimplePagedResultsControl(True, size=settings.sync_page_size, cookie=cookie)
        msgid = conn.search_ext(settings.base_dn, ldap.SCOPE_SUBTREE, filterstr, list(attributes),
                                serverctrls=[control], timeout=settings.timeout_s)
        _type, page, _msgid, controls = conn.result3(msgid, all=1, timeout=settings.timeout_s)
        for dn, attrs in page:
            if dn is not None:
                if progress is not None:
                    progress[0] += 1
                yield dn, {name.lower(): values for name, values in attrs.items()}
        cookie = next((c.cookie for c in controls
                       if c.controlType == SimplePagedResultsControl.controlType), b"")
        if not cookie:
            return


@contextlib.contextmanager
def _failures(source: ListingSource) -> Iterator[list[int]]:
    """Turns an LDAP failure into ``DirectoryUnavailable`` saying how far the listing came;
    gives the counter of entries read."""
    progress = [0]
    try:
        yield progress
    except ldap.LDAPError as exc:
        hint = _LIMIT_HINT if isinstance(exc, ldap.SIZELIMIT_EXCEEDED) else ""
        raise DirectoryUnavailable(
            f"{source.organization}: the directory listing failed after {progress[0]} "
            f"entries: {_describe(exc)}{hint}") from exc


def _root_dse(source: ListingSource) -> tuple[int | None, str | None]:
    with _failures(source), source.service_connection() as conn:
        return _read_root_dse(conn, source.settings.timeout_s)


def _read_root_dse(conn: Any, timeout_s: float) -> tuple[int | None, str | None]:
    """Active Directory's highestCommittedUSN and dsServiceName (None where the server has
    none: it is no Active Directory, so no listing continues from a mark)."""
    found = conn.search_ext_s("", ldap.SCOPE_BASE, "(objectClass=*)", list(_ROOT_DSE_USN),
                              timeout=timeout_s)
    attrs = {name.lower(): values for dn, entry in found if dn is not None
             for name, values in entry.items()}
    usn = attrs.get("highestcommittedusn", [b""])[0].decode()
    server = attrs.get("dsservicename", [b""])[0].decode()
    return (int(usn) if usn.isdigit() else None), (server or None)


def _describe(exc: ldap.LDAPError) -> str:
    data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc, info = data.get("desc", type(exc).__name__), data.get("info", "")
    return f"{desc}: {info}" if info else str(desc)
