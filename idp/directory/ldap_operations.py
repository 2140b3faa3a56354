"""The operations a login makes on one server's connections: find the one entry a username
selects (the username escaped in the filter), bind as it with the person's password, bind a
decoy when there is no such entry (as long as a wrong password takes, ``idp.directory.timing``),
and ask whether the entry matches ``disabled_filter``. The password is never logged."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import ldap
import ldap.filter

from idp.directory import presets
from idp.directory.base import AuthStatus
from idp.directory.ldap_errors import info
from idp.directory.presets import Profile
from idp.directory.timing import BindTimer
from idp.errors import DirectoryUnavailable
from idp.settings import DirectorySettings

log = logging.getLogger("idp.directory.ldap")  # the directory's lines keep one logger name

# Bound instead of an account that does not exist; no entry has this name.
DECOY_RDN = "cn=campus-id-no-such-account"

RawAttributes = Mapping[str, list[bytes]]
Entry = tuple[str, dict[str, list[bytes]]]


def find(conn: Any, organization: str, s: DirectorySettings, profile: Profile,
         username: str) -> Entry | None:
    """The one entry the user filter selects, its attribute names in lower case; none when
    zero or several match."""
    escaped = ldap.filter.escape_filter_chars(username)
    filterstr = presets.render_filter(profile.user_filter, escaped)
    try:
        found = conn.search_ext_s(s.base_dn, ldap.SCOPE_SUBTREE, filterstr,
                                  profile.requested_attributes, sizelimit=2)
    except ldap.SIZELIMIT_EXCEEDED:
        _ambiguous(organization)
        return None
    except ldap.NO_SUCH_OBJECT as exc:
        raise DirectoryUnavailable(
            f"{organization}: base_dn {s.base_dn!r} does not exist or the service account "
            "cannot read it"
        ) from exc
    entries = [(dn, attrs) for dn, attrs in found if dn is not None]  # drop referrals
    if len(entries) > 1:
        _ambiguous(organization)
        return None
    if not entries:
        return None
    dn, attrs = entries[0]
    return dn, {name.lower(): values for name, values in attrs.items()}


def _ambiguous(organization: str) -> None:
    """Log that several entries matched; the caller then refuses the login."""
    log.warning("%s: the user filter matches several entries for one username; refusing "
                "the login (fix user_filter or the directory)", organization)


def bind_as(conn: Any, dn: str, password: str, *, active_directory: bool) -> AuthStatus:
    """Bind as ``dn``: OK, a wrong password, or (Active Directory) what its sub-code says."""
    try:
        conn.simple_bind_s(dn, password)
    except ldap.INVALID_CREDENTIALS as exc:
        if active_directory:
            return presets.ad_bind_status(info(exc))
        return AuthStatus.INVALID_CREDENTIALS
    return AuthStatus.OK


def decoy_bind(conn: Any, password: str, base_dn: str, timer: BindTimer) -> None:
    """No such account (or several): spend what a wrong password would have cost."""
    started = time.perf_counter()
    with contextlib.suppress(ldap.INVALID_CREDENTIALS, ldap.INVALID_DN_SYNTAX,
                             ldap.UNWILLING_TO_PERFORM):
        conn.simple_bind_s(f"{DECOY_RDN},{base_dn}", password)
    timer.pad(time.perf_counter() - started)


def matches_disabled(conn: Any, s: DirectorySettings, dn: str) -> bool:
    """Whether the entry matches ``disabled_filter`` (a server without userAccountControl,
    where a disabled person's password still binds). Asked on the service connection, as the
    service account, which may read the attributes the filter names, and only once the
    password is proven, so it costs nothing to a wrong password."""
    found = conn.search_ext_s(dn, ldap.SCOPE_BASE, s.disabled_filter, ["1.1"],
                              timeout=s.timeout_s)
    return any(entry_dn for entry_dn, _ in found if entry_dn)
