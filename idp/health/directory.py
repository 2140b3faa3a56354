"""Whether an organization's directory answers: an anonymous read of a server's root DSE (no
password is sent), on a connection of its own whose timeouts are capped by the deadline. A
server whose circuit breaker is open (``idp.directory.breaker``) counts as down at once."""

from __future__ import annotations

import logging
import time

import ldap

from idp.directory.base import PasswordDirectory
from idp.directory.ldap import LdapDirectory
from idp.directory.pool import close
from idp.health.checks import NotReady
from idp.settings import DirectorySettings

log = logging.getLogger(__name__)


def check_directory(organization: str, settings: DirectorySettings,
                    directory: PasswordDirectory | None, deadline_s: float) -> str:
    """The first server that answers within the deadline; ``NotReady`` when none does."""
    breakers = directory.breakers if isinstance(directory, LdapDirectory) else {}
    uris = [uri for uri in settings.uris if uri not in breakers or not breakers[uri].is_open]
    if not uris:
        raise NotReady("every server failed to answer a login in time; "
                       "waiting for a background probe to reach one")
    ends = time.monotonic() + deadline_s
    for position, uri in enumerate(uris, start=1):
        left = min(settings.timeout_s, ends - time.monotonic())
        if left <= 0.01:
            break
        try:
            read_root_dse(uri, settings, left)
        except ldap.LDAPError as error:
            log.warning("readiness: %s: directory server %s does not answer: %s",
                        organization, uri, type(error).__name__)
            continue
        return "server 1 answers" if position == 1 else f"server {position} answers"
    raise NotReady(f"no server answered within {deadline_s:g} s")


def read_root_dse(uri: str, s: DirectorySettings, timeout_s: float) -> None:
    conn = ldap.initialize(uri)
    try:
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, timeout_s)
        conn.set_option(ldap.OPT_TIMEOUT, timeout_s)
        conn.set_option(ldap.OPT_CONNECT_ASYNC, ldap.OPT_ON)  # see idp.directory.ldap_connect.connect
        if uri.lower().startswith("ldaps://") or s.start_tls:
            if s.ca_file:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, s.ca_file)
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        if s.start_tls and uri.lower().startswith("ldap://"):
            conn.start_tls_s()
        conn.search_ext_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"], timeout=timeout_s)
    finally:
        close(conn)
