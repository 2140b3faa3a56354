"""A password check on one server of an ``LdapDirectory``: the account searched on a
connection bound as the service account, the person's password bound on a connection kept
for people's binds (``idp.directory.ldap`` says why two), both borrowed from the directory's
pools, given back once the check completed and closed when it failed; a check that finds a
kept connection gone is tried once more on new ones. Only with the password proven may the
answer differ from a wrong password (a disabled account); an unknown username binds a decoy,
so it costs what a wrong password costs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import ldap

from idp.directory import ldap_connect, presets
from idp.directory import ldap_operations as ops
from idp.directory import pool as pool_conn
from idp.directory.base import AuthResult, AuthStatus, DirectoryAccount
from idp.directory.ldap_errors import StaleConnection
from idp.directory.pool import Lent
from idp.errors import DirectoryUnavailable
from idp.metrics import record

if TYPE_CHECKING:
    from idp.directory.ldap import LdapDirectory

REJECTED = AuthResult(AuthStatus.INVALID_CREDENTIALS)


def authenticate_at(directory: LdapDirectory, uri: str, username: str,
                    password: str) -> AuthResult:
    try:
        return _check_password(directory, uri, username, password, retry=False)
    except StaleConnection:
        # Closed since its last use: the server restarted or dropped idle connections.
        directory.pools[uri].clear()
        directory.bind_pools[uri].clear()
        return _check_password(directory, uri, username, password, retry=True)


def _check_password(directory: LdapDirectory, uri: str, username: str, password: str, *,
                    retry: bool) -> AuthResult:
    """Search on a service connection, bind on a connection for binds; both given back
    when the check completed, closed when it failed (``StaleConnection`` when a kept one
    found the server gone and this is not already the retry)."""
    pool, binds = directory.pools[uri], directory.bind_pools[uri]
    searcher = pool.borrow()
    try:
        binder = binds.borrow()
    except BaseException:
        pool_conn.close(searcher.conn)
        raise
    try:
        result = _search_and_bind(directory, uri, searcher, binder.conn, username, password)
    except ldap.SERVER_DOWN as exc:
        pool_conn.close(searcher.conn)
        pool_conn.close(binder.conn)
        if not retry and (searcher.reused or binder.reused):
            raise StaleConnection from exc
        raise
    except BaseException:
        pool_conn.close(searcher.conn)
        pool_conn.close(binder.conn)
        raise
    pool.give_back(searcher)
    binds.give_back(binder)
    return result


def _search_and_bind(directory: LdapDirectory, uri: str, searcher: Lent, binder: Any,
                     username: str, password: str) -> AuthResult:
    s, profile, organization = directory.settings, directory.profile, directory.organization
    conn = searcher.conn
    if not searcher.service_bound:
        ldap_connect.service_bind(organization, conn, uri, s)
        searcher.service_bound = True
    started = time.perf_counter()
    entry = ops.find(conn, organization, s, profile, username)
    record.directory_round_trip(organization, uri, "search", started)
    if entry is None:
        ops.decoy_bind(binder, password, s.base_dn, directory.bind_timer)
        return REJECTED
    dn, attrs = entry
    started = time.perf_counter()
    status = ops.bind_as(binder, dn, password, active_directory=profile.active_directory)
    directory.bind_timer.observe(time.perf_counter() - started)
    record.directory_round_trip(organization, uri, "bind", started)
    if status is not AuthStatus.OK:
        return AuthResult(status)
    # Only now, with the password proven, may the answer differ from a wrong password.
    control = attrs.get(presets.AD_ACCOUNT_CONTROL.lower(), [])
    if profile.active_directory and presets.ad_account_disabled(control):
        return AuthResult(AuthStatus.ACCOUNT_DISABLED)
    if s.disabled_filter and ops.matches_disabled(conn, s, dn):
        return AuthResult(AuthStatus.ACCOUNT_DISABLED)
    return AuthResult(AuthStatus.OK, account(directory, dn, attrs, username))


def account(directory: LdapDirectory, dn: str, attrs: ops.RawAttributes,
            typed: str) -> DirectoryAccount:
    """The entry as an account, through the directory's attribute mapping (``presets``); an
    entry that cannot be one makes the directory unavailable, not the password wrong."""
    try:
        return presets.account_from_entry(directory.organization, directory.profile,
                                          directory.settings.affiliation_map, attrs, typed)
    except ValueError as exc:
        raise DirectoryUnavailable(
            f"{directory.organization}: the entry {dn!r} cannot be an account: {exc}") from exc
