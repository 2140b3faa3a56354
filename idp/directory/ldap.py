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

This module holds the order of things: which server, and on which pooled connection. The
parts have modules of their own: a password check on one server (``ldap_login``), the search
and binds it makes (``ldap_operations``), opening connections (``ldap_connect``), what
python-ldap's errors mean (``ldap_errors``), the pools (``pool``), the attribute mapping
(``presets``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ldap

from idp.directory import groups, ldap_connect, ldap_login, listing, presets
from idp.directory import ldap_operations as ops
from idp.directory import pool as pool_conn
from idp.directory.base import AuthResult, DirectoryListing
from idp.directory.breaker import CircuitBreaker
from idp.directory.ldap_errors import TRY_NEXT, describe
from idp.directory.ldap_login import REJECTED
from idp.directory.ldap_operations import DECOY_RDN
from idp.directory.pool import ConnectionPool, Lent
from idp.directory.timing import BindTimer
from idp.errors import ConfigError, DirectoryUnavailable
from idp.settings import DirectorySettings

__all__ = ["DECOY_RDN", "SLOW_FAILURE", "LdapDirectory"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# A failure that took this share of timeout_s made the login wait: skip that server a while.
SLOW_FAILURE = 0.5


class LdapDirectory:
    """``PasswordDirectory`` for ``ldap`` and ``active_directory``: the same code, where the type
    only picks the defaults (``presets``)."""

    def __init__(self, organization_id: str, settings: DirectorySettings) -> None:
        self.organization = organization_id
        self.settings = settings
        self.profile = presets.profile_for(settings)
        self.bind_timer = BindTimer()
        self.pools = {uri: self._pool(uri) for uri in settings.uris}  # bound as the service account
        self.bind_pools = {uri: ConnectionPool(functools.partial(
                               ldap_connect.open_for_binds, uri, settings))
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
            return REJECTED
        log.debug("checking the password of %r at %s", username, self.organization)
        return self._on_first_answering(
            lambda uri: ldap_login.authenticate_at(self, uri, username, password))

    def login_name(self, username: str) -> str:
        """``LoginNames``: every name this directory finds one account by counts as one."""
        return presets.login_name(username, active_directory=self.profile.active_directory)

    def is_member(self, username: str, group_dn: str) -> bool:
        """``GroupDirectory``: whether the account ``username`` is in ``group_dn`` (read with
        the service account). Raises ``DirectoryUnavailable`` when no server answers."""
        if not presets.acceptable_credentials(username, "-"):
            return False
        return self._on_first_answering(lambda uri: self._is_member_at(uri, username, group_dn))

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
        uri, lent = self._on_first_answering(lambda uri: (uri, self._lend_checked(uri)))
        try:
            yield lent.conn
        except BaseException:
            pool_conn.close(lent.conn)
            raise
        self.pools[uri].give_back(lent)

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
    def _on_first_answering(self, attempt: Callable[[str], T]) -> T:
        """``attempt(uri)`` on each server in turn until one answers; a server that does not
        (``TRY_NEXT``) passes the turn on, any other LDAP error ends the call. Raises
        ``DirectoryUnavailable`` when no server answers."""
        failures: list[str] = []
        for uri in self._answering_uris():
            started = time.monotonic()
            try:
                return attempt(uri)
            except TRY_NEXT as exc:
                self._no_answer(uri, exc, time.monotonic() - started)
                failures.append(f"{uri} ({describe(exc)})")
            except ldap.LDAPError as exc:
                raise self._unavailable(f"{uri} failed: {describe(exc)}") from exc
        raise self._unavailable("no directory server answered: " + "; ".join(failures))

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
                    describe(exc))
        if waited_s >= SLOW_FAILURE * self.settings.timeout_s:
            self.breakers[uri].trip(f"{waited_s:.1f} s: {describe(exc)}")

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
    def _pool(self, uri: str) -> ConnectionPool:
        return ConnectionPool(lambda: self._open(uri))

    def _open(self, uri: str) -> Any:
        return ldap_connect.open_service(self.organization, uri, self.settings)

    def _service_bind(self, conn: Any, uri: str) -> None:
        ldap_connect.service_bind(self.organization, conn, uri, self.settings)

    def _find(self, conn: Any, username: str) -> ops.Entry | None:
        return ops.find(conn, self.organization, self.settings, self.profile, username)

    def _unavailable(self, detail: str) -> DirectoryUnavailable:
        return DirectoryUnavailable(f"{self.organization}: {detail}")
