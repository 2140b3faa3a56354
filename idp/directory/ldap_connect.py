"""New connections to one LDAP server: every timeout set, so that a server that accepts and
never answers cannot hang a login; certificates checked for ldaps:// and StartTLS; then bound
as the service account (connections that search) or as nobody yet (connections for people's
binds). A connection that fails while being opened is closed, never handed out."""

from __future__ import annotations

from typing import Any

import ldap

from idp.directory import pool as pool_conn
from idp.directory.ldap_errors import describe
from idp.errors import DirectoryUnavailable
from idp.settings import DirectorySettings


def connect(uri: str, s: DirectorySettings) -> Any:
    """A connection (not yet opened) with every timeout set, and certificate checks demanded
    for TLS."""
    conn = ldap.initialize(uri)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, s.timeout_s)
    conn.set_option(ldap.OPT_TIMEOUT, s.timeout_s)
    # Without it libldap (2.5, GnuTLS) waits forever, spinning, in a TLS handshake that the
    # server never answers, for ldaps:// and StartTLS alike, whatever the timeouts say.
    conn.set_option(ldap.OPT_CONNECT_ASYNC, ldap.OPT_ON)
    if uri.lower().startswith("ldaps://") or s.start_tls:
        if s.ca_file:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, s.ca_file)
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the options above
    return conn


def open_for_binds(uri: str, s: DirectorySettings) -> Any:
    """A new connection for people's binds (after StartTLS when asked), bound as nobody yet:
    its first operation is a person's bind."""
    conn = connect(uri, s)
    try:
        _start_tls(conn, uri, s)
    except BaseException:
        pool_conn.close(conn)
        raise
    return conn


def open_service(organization: str, uri: str, s: DirectorySettings) -> Any:
    """A new connection bound as the service account (after StartTLS when asked)."""
    conn = connect(uri, s)
    try:
        _start_tls(conn, uri, s)
        service_bind(organization, conn, uri, s)
    except BaseException:
        pool_conn.close(conn)
        raise
    return conn


def service_bind(organization: str, conn: Any, uri: str, s: DirectorySettings) -> None:
    """Bind as the service account (anonymous when none is configured). A refusal is the
    operator's problem, not the person's: the directory counts as unavailable."""
    try:
        conn.simple_bind_s(s.bind_dn, s.bind_password if s.bind_dn else "")
    except ldap.INVALID_CREDENTIALS as exc:
        raise DirectoryUnavailable(
            f"{organization}: {uri} refused the service account {s.bind_dn!r}: {describe(exc)}"
        ) from exc


def _start_tls(conn: Any, uri: str, s: DirectorySettings) -> None:
    if s.start_tls and uri.lower().startswith("ldap://"):
        conn.start_tls_s()
