"""Password login against an LDAP v3 or Active Directory server: search the account with the
service account, then bind as it with the person's password (passwords are never stored).

Connections are kept per server (``idp.directory.pool``) in two pools: those bound as the
service account, which only ever search (and are never bound as anyone else, so need no bind
again), and those that only ever bind a person (or the decoy), never search: a person's bind
never leaves a connection that a later search could run on as that person. A login borrows one
of each. A connection that fails is closed, and a login that finds the server gone on a
connection kept from an earlier login is retried once on new connections (the server may
have restarted). Servers are tried in order: one that is down or does not answer
within ``timeout_s`` passes the turn to the next; when none answers the call raises
``DirectoryUnavailable``. A server that made a login wait (hung rather than refusing) is
skipped by the next logins until a background probe gets an answer from it
(``idp.directory.breaker``): only the logins already waiting on it pay its timeout. Input no directory
should see (an empty password above all, which many servers take as an anonymous bind) is
refused before any network traffic.
An unknown username costs what a wrong password costs (``idp.directory.timing``).
The directory sync lists every account through a pooled service connection
(``listing``, ``idp.directory.listing``).
The password is never logged; the username only at debug level.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import ldap
import ldap.filter

from idp.directory import groups, listing, presets
from idp.directory import pool as pool_conn
from idp.directory.base import AuthResult, AuthStatus, DirectoryAccount, DirectoryListing
from idp.directory.breaker import CircuitBreaker
from idp.directory.pool import ConnectionPool, Lent
from idp.directory.timing import BindTimer
from idp.errors import ConfigError, DirectoryUnavailable
from idp.metrics import record
from idp.settings import DirectorySettings

log = logging.getLogger(__name__)

# Errors after which the next server is worth a try: no answer, or a server too busy to give one.
_TRY_NEXT = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY)
_REJECTED = AuthResult(AuthStatus.INVALID_CREDENTIALS)
# A failure that took this share of timeout_s made the login wait: skip that server a while.
SLOW_FAILURE = 0.5

RawAttributes = Mapping[str, list[bytes]]
# Bound instead of an account that does not exist; no entry has this name.
DECOY_RDN = "cn=campus-id-no-such-account"


class LdapDirectory:
    """``PasswordDirectory`` for ``ldap`` and ``active_directory``: the same code, where the type
    only picks the defaults (``presets``)."""

    def __init__(self, organization_id: str, settings: DirectorySettings) -> None:
        self.organization = organization_id
        self.settings = settings
        self.profile = presets.profile_for(settings)
        self.bind_timer = BindTimer()
        self.pools = {uri: self._pool(uri) for uri in settings.uris}  # bound as the service account
        self.bind_pools = {uri: ConnectionPool(functools.partial(self._open_for_binds, uri))
                           for uri in settings.uris}  # a person's bind only, never a search
        self.breakers = {uri: CircuitBreaker(f"{organization_id}: directory server {uri}", self,
                                             functools.partial(LdapDirectory._probe, uri=uri))
                         for uri in settings.uris}
        problems = presets.profile_problems(self.profile)
        if problems:
            prefix = f"organizations.{organization_id}.directory."
            raise ConfigError([prefix + problem for problem in problems])

    def authenticate(self, username: str, password: str) -> AuthResult:
        if not presets.acceptable_credentials(username, password):
            return _REJECTED
        log.debug("checking the password of %r at %s", username, self.organization)
        failures: list[str] = []
        for uri in self._answering_uris():
            started = time.monotonic()
            try:
                return self._authenticate_at(uri, username, password)
            except _TRY_NEXT as exc:
                self._no_answer(uri, exc, time.monotonic() - started)
                failures.append(f"{uri} ({_describe(exc)})")
            except ldap.LDAPError as exc:
                raise self._unavailable(f"{uri} failed: {_describe(exc)}") from exc
        raise self._unavailable("no directory server answered: " + "; ".join(failures))

    def login_name(self, username: str) -> str:
        """``LoginNames``: every name this directory finds one account by counts as one."""
        return presets.login_name(username, active_directory=self.profile.active_directory)

    def is_member(self, username: str, group_dn: str) -> bool:
        """``GroupDirectory``: whether the account ``username`` is in ``group_dn`` (read with
        the service account). Raises ``DirectoryUnavailable`` when no server answers."""
        if not presets.acceptable_credentials(username, "-"):
            return False
        failures: list[str] = []
        for uri in self._answering_uris():
            started = time.monotonic()
            try:
                return self._is_member_at(uri, username, group_dn)
            except _TRY_NEXT as exc:
                self._no_answer(uri, exc, time.monotonic() - started)
                failures.append(f"{uri} ({_describe(exc)})")
            except ldap.LDAPError as exc:
                raise self._unavailable(f"{uri} failed: {_describe(exc)}") from exc
        raise self._unavailable("no directory server answered: " + "; ".join(failures))

    def _is_member_at(self, uri: str, username: str, group_dn: str) -> bool:
        pool = self.pools[uri]
        lent = pool.borrow()
        try:
            if not lent.service_bound:
                self._service_bind(lent.conn, uri)
                lent.service_bound = True
            entry = self._find(lent.conn, username)
            member = entry is not None and groups.has_member(
                lent.conn, group_dn, entry[0], username,
                active_directory=self.profile.active_directory)
        except BaseException:
            pool_conn.close(lent.conn)
            raise
        pool.give_back(lent)
        return member

    def listing(self, since: str | None = None) -> DirectoryListing:
        """``ListableDirectory``: every account under base_dn, or those changed since the mark
        ``since`` where the server can tell (``idp.directory.listing``)."""
        return listing.open_listing(self, since)

    @contextlib.contextmanager
    def service_connection(self) -> Iterator[Any]:
        """A pooled connection bound as the service account, from the first server that
        answers: given back when the block ends, closed when it raises (or is abandoned).
        Raises ``DirectoryUnavailable`` when no server answers."""
        failures: list[str] = []
        for uri in self._answering_uris():
            started = time.monotonic()
            try:
                lent = self._lend_checked(uri)
            except _TRY_NEXT as exc:
                self._no_answer(uri, exc, time.monotonic() - started)
                failures.append(f"{uri} ({_describe(exc)})")
                continue
            except ldap.LDAPError as exc:
                raise self._unavailable(f"{uri} failed: {_describe(exc)}") from exc
            try:
                yield lent.conn
            except BaseException:
                pool_conn.close(lent.conn)
                raise
            self.pools[uri].give_back(lent)
            return
        raise self._unavailable("no directory server answered: " + "; ".join(failures))

    def _lend_checked(self, uri: str) -> Lent:
        """A connection bound as the service account that has just answered (a kept one may
        have been closed by a server that restarted since: then a new one)."""
        pool = self.pools[uri]
        lent = pool.borrow()
        try:
            if not lent.service_bound:
                self._service_bind(lent.conn, uri)
                lent.service_bound = True
            elif lent.reused:
                lent.conn.search_ext_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
            return lent
        except ldap.SERVER_DOWN:
            pool_conn.close(lent.conn)
            if not lent.reused:
                raise
            pool.clear()
            return Lent(self._open(uri), reused=False)
        except BaseException:
            pool_conn.close(lent.conn)
            raise

    # -- which servers ----------------------------------------------------------------------
    def _answering_uris(self) -> list[str]:
        """The URIs in order, without those skipped after making a login wait; none at all
        when every one is (then the probes alone wait on them)."""
        uris = [uri for uri in self.settings.uris if not self.breakers[uri].is_open]
        if not uris:
            raise self._unavailable("every directory server failed to answer in time; waiting "
                                    "for a background probe to reach one")
        return uris

    def _no_answer(self, uri: str, exc: ldap.LDAPError, waited_s: float) -> None:
        """A server that made the caller wait (rather than refusing at once, which costs
        nothing to try again) is skipped until its probe gets an answer."""
        log.warning("%s: directory server %s did not answer: %s", self.organization, uri,
                    _describe(exc))
        if waited_s >= SLOW_FAILURE * self.settings.timeout_s:
            self.breakers[uri].trip(f"{waited_s:.1f} s: {_describe(exc)}")

    def close(self) -> None:
        """Stop probing servers that failed and close the kept connections (a directory
        replaced by another, a test's; the provider's live as long as the process)."""
        for breaker in self.breakers.values():
            breaker.stop()
        for pool in [*self.pools.values(), *self.bind_pools.values()]:
            pool.clear()

    def _probe(self, uri: str) -> None:
        """A new connection bound as the service account, kept for the next login."""
        self.pools[uri].give_back(Lent(self._open(uri), reused=False))

    # -- one server -----------------------------------------------------------------------
    def _authenticate_at(self, uri: str, username: str, password: str) -> AuthResult:
        try:
            return self._check_password(uri, username, password, retry=False)
        except _StaleConnection:
            # Closed since its last use: the server restarted or dropped idle connections.
            self.pools[uri].clear()
            self.bind_pools[uri].clear()
            return self._check_password(uri, username, password, retry=True)

    def _check_password(self, uri: str, username: str, password: str, *, retry: bool) -> AuthResult:
        """Search on a service connection, bind on a connection for binds; both given back
        when the check completed, closed when it failed (``_StaleConnection`` when a kept one
        found the server gone and this is not already the retry)."""
        pool, binds = self.pools[uri], self.bind_pools[uri]
        searcher = pool.borrow()
        try:
            binder = binds.borrow()
        except BaseException:
            pool_conn.close(searcher.conn)
            raise
        try:
            result = self._search_and_bind(uri, searcher, binder.conn, username, password)
        except ldap.SERVER_DOWN as exc:
            pool_conn.close(searcher.conn)
            pool_conn.close(binder.conn)
            if not retry and (searcher.reused or binder.reused):
                raise _StaleConnection from exc
            raise
        except BaseException:
            pool_conn.close(searcher.conn)
            pool_conn.close(binder.conn)
            raise
        pool.give_back(searcher)
        binds.give_back(binder)
        return result

    def _search_and_bind(self, uri: str, searcher: Lent, binder: Any, username: str,
                         password: str) -> AuthResult:
        conn = searcher.conn
        if not searcher.service_bound:
            self._service_bind(conn, uri)
            searcher.service_bound = True
        started = time.perf_counter()
        entry = self._find(conn, username)
        record.directory_round_trip(self.organization, uri, "search", started)
        if entry is None:
            self._decoy_bind(binder, password)
            return _REJECTED
        dn, attrs = entry
        started = time.perf_counter()
        status = self._bind_as(binder, dn, password)
        self.bind_timer.observe(time.perf_counter() - started)
        record.directory_round_trip(self.organization, uri, "bind", started)
        if status is not AuthStatus.OK:
            return AuthResult(status)
        # Only now, with the password proven, may the answer differ from a wrong password.
        control = attrs.get(presets.AD_ACCOUNT_CONTROL.lower(), [])
        if self.profile.active_directory and presets.ad_account_disabled(control):
            return AuthResult(AuthStatus.ACCOUNT_DISABLED)
        if self.settings.disabled_filter and self._matches_disabled(conn, dn):
            return AuthResult(AuthStatus.ACCOUNT_DISABLED)
        return AuthResult(AuthStatus.OK, self._account(dn, attrs, username))

    def _matches_disabled(self, conn: Any, dn: str) -> bool:
        """Whether the entry matches ``disabled_filter`` (a server without
        userAccountControl, where a disabled person's password still binds). Asked on the
        service connection, as the service account, which may read the attributes the filter
        names, and only once the password is proven, so it costs nothing to a wrong password."""
        found = conn.search_ext_s(dn, ldap.SCOPE_BASE, self.settings.disabled_filter, ["1.1"],
                                  timeout=self.settings.timeout_s)
        return any(entry_dn for entry_dn, _ in found if entry_dn)

    def _pool(self, uri: str) -> ConnectionPool:
        return ConnectionPool(lambda: self._open(uri))

    def _open_for_binds(self, uri: str) -> Any:
        """A new connection for people's binds (after StartTLS when asked), bound as nobody
        yet: its first operation is a person's bind."""
        conn = self._connect(uri)
        try:
            if self.settings.start_tls and uri.lower().startswith("ldap://"):
                conn.start_tls_s()
        except BaseException:
            pool_conn.close(conn)
            raise
        return conn

    def _open(self, uri: str) -> Any:
        """A new connection bound as the service account (after StartTLS when asked)."""
        conn = self._connect(uri)
        try:
            if self.settings.start_tls and uri.lower().startswith("ldap://"):
                conn.start_tls_s()
            self._service_bind(conn, uri)
        except BaseException:
            pool_conn.close(conn)
            raise
        return conn

    def _connect(self, uri: str) -> Any:
        """A connection (not yet opened) with every timeout set, so that a server that accepts
        and never answers cannot hang the login, and certificate checks demanded for TLS."""
        s = self.settings
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

    def _service_bind(self, conn: Any, uri: str) -> None:
        """Bind as the service account (anonymous when none is configured). A refusal is the
        operator's problem, not the person's: the directory counts as unavailable."""
        s = self.settings
        try:
            conn.simple_bind_s(s.bind_dn, s.bind_password if s.bind_dn else "")
        except ldap.INVALID_CREDENTIALS as exc:
            raise self._unavailable(
                f"{uri} refused the service account {s.bind_dn!r}: {_describe(exc)}"
            ) from exc

    def _find(self, conn: Any, username: str) -> tuple[str, dict[str, list[bytes]]] | None:
        """The one entry the filter selects; none when zero or several match."""
        escaped = ldap.filter.escape_filter_chars(username)
        filterstr = presets.render_filter(self.profile.user_filter, escaped)
        try:
            found = conn.search_ext_s(self.settings.base_dn, ldap.SCOPE_SUBTREE, filterstr,
                                      self.profile.requested_attributes, sizelimit=2)
        except ldap.SIZELIMIT_EXCEEDED:
            self._ambiguous()
            return None
        except ldap.NO_SUCH_OBJECT as exc:
            raise self._unavailable(
                f"base_dn {self.settings.base_dn!r} does not exist or the service account "
                "cannot read it"
            ) from exc
        entries = [(dn, attrs) for dn, attrs in found if dn is not None]  # drop referrals
        if len(entries) > 1:
            self._ambiguous()
            return None
        if not entries:
            return None
        dn, attrs = entries[0]
        return dn, {name.lower(): values for name, values in attrs.items()}

    def _ambiguous(self) -> None:
        """Log that several entries matched; the caller then refuses the login."""
        log.warning("%s: the user filter matches several entries for one username; refusing "
                    "the login (fix user_filter or the directory)", self.organization)

    def _bind_as(self, conn: Any, dn: str, password: str) -> AuthStatus:
        try:
            conn.simple_bind_s(dn, password)
        except ldap.INVALID_CREDENTIALS as exc:
            if self.profile.active_directory:
                return presets.ad_bind_status(_info(exc))
            return AuthStatus.INVALID_CREDENTIALS
        return AuthStatus.OK

    def _decoy_bind(self, conn: Any, password: str) -> None:
        """No such account (or several): spend what a wrong password would have cost."""
        started = time.perf_counter()
        with contextlib.suppress(ldap.INVALID_CREDENTIALS, ldap.INVALID_DN_SYNTAX,
                                 ldap.UNWILLING_TO_PERFORM):
            conn.simple_bind_s(f"{DECOY_RDN},{self.settings.base_dn}", password)
        self.bind_timer.pad(time.perf_counter() - started)

    # -- mapping --------------------------------------------------------------------------
    def _account(self, dn: str, attrs: RawAttributes, typed: str) -> DirectoryAccount:
        try:
            return presets.account_from_entry(self.organization, self.profile,
                                              self.settings.affiliation_map, attrs, typed)
        except ValueError as exc:
            raise self._unavailable(f"the entry {dn!r} cannot be an account: {exc}") from exc

    def _unavailable(self, detail: str) -> DirectoryUnavailable:
        return DirectoryUnavailable(f"{self.organization}: {detail}")


class _StaleConnection(Exception):
    """A kept connection found the server gone: worth one more try on new connections."""


def _info(exc: ldap.LDAPError) -> str:
    """The server's diagnostic message (AD puts its sub-codes there)."""
    data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(data.get("info", ""))


def _describe(exc: ldap.LDAPError) -> str:
    data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc, info = data.get("desc", type(exc).__name__), data.get("info", "")
    return f"{desc}: {info}" if info else str(desc)
