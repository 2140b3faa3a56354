"""The services an app instance holds (settings, database, directories, keys, the login
throttle), and the request-scoped database session. Bound to the Flask app in the factory,
like an extension."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import PasswordDirectory
from idp.identity.throttle import LoginThrottle
from idp.linking.rules import Linker
from idp.oidc.delivery_worker import BackgroundDelivery, attach
from idp.oidc.keys import KeyRing
from idp.oidc.live_keys import LiveKeyRing
from idp.settings import Settings
from idp.storage.base import make_read_engine
from idp.storage.client_cache import ClientCache
from idp.storage.clients import Client
from idp.storage.release_cache import Policies, PolicyCache

EXTENSION = "campus_id"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    directories: dict[str, PasswordDirectory]
    keys: LiveKeyRing = field(repr=False)
    throttle: LoginThrottle = field(repr=False, kw_only=True)

    def keyring(self) -> KeyRing:
        """The current snapshot (rotated, activated and retired keys are picked up by
        ``LiveKeyRing``); within a request always the one taken when the request began."""
        if not has_request_context():
            return self.keys.current()
        if "keyring" not in g:
            g.keyring = self.keys.current()
        ring: KeyRing = g.keyring
        return ring

    @cached_property
    def reads(self) -> Engine | None:
        """The engine in autocommit, for reads only (``read_db``, ``read_connection``); None on
        SQLite, where a request reads in its own session."""
        return make_read_engine(self.engine)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session] | None:
        """Sessions that only read, in autocommit (``read_db``); None on SQLite."""
        return None if self.reads is None else sessionmaker(self.reads, expire_on_commit=False)

    @cached_property
    def clients(self) -> ClientCache:
        """Read-only client snapshots for the protocol endpoints (see ``client_cache``)."""
        return ClientCache()

    @cached_property
    def deliveries(self) -> BackgroundDelivery:
        """Posts back-channel tokens off the request (see ``delivery_worker``)."""
        return BackgroundDelivery(self.sessions, self.settings.outbound)

    @cached_property
    def release_policies(self) -> PolicyCache:
        """Release policies as the token, UserInfo and consent paths read them (see
        ``release_cache``)."""
        return PolicyCache()

    @cached_property
    def linker(self) -> Linker:
        """Built once: the rules are settings, and its key derivation is not per-login work."""
        return Linker.from_settings(self.settings)


def init_app(app: Flask, services: Services) -> None:
    app.extensions[EXTENSION] = services
    services.clients  # noqa: B018 - made now, before a server forks workers that share it
    services.release_policies  # noqa: B018 - likewise
    attach(services.sessions, services.deliveries)  # requests' sessions hand deliveries off
    # First of all before_request functions: a key reload reads the database before the
    # request's own transaction begins (on SQLite that one holds the write lock).
    app.before_request(lambda: _take_keyring(services))
    app.teardown_appcontext(_close_session)


def _take_keyring(found: Services) -> None:
    found.keyring()


def services_of(app: Flask) -> Services:
    found: Services = app.extensions[EXTENSION]
    return found


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION]
    return found


def settings() -> Settings:
    return services().settings


def throttle() -> LoginThrottle:
    return services().throttle


def db() -> Session:
    """The unit of work of the current request; the view commits it before responding."""
    if "db" not in g:
        g.db = services().sessions()
    session: Session = g.db
    return session


def read_db() -> Session:
    """For a request that only reads (UserInfo, introspection): on PostgreSQL a session in
    autocommit, each statement its own round trip with no BEGIN before it nor ROLLBACK after
    (two round trips fewer per request, and the connection's prepared statements survive).
    Never for a write, which would not wait for the request's commit. On SQLite ``db``."""
    sessions = services().read_sessions
    if sessions is None:
        return db()
    if "read_db" not in g:
        g.read_db = sessions()
    session: Session = g.read_db
    return session


def read_connection() -> Connection:
    """``read_db`` for Core statements alone (UserInfo's and introspection's token rows): the
    pooled connection itself, without a session's bookkeeping around it. On SQLite the
    connection of ``db``."""
    reads = services().reads
    if reads is None:
        return db().connection()
    if "read_connection" not in g:
        g.read_connection = reads.connect()
    connection: Connection = g.read_connection
    return connection


def open_db() -> Session | None:
    """The request's unit of work if anything opened it: a request answered from memory
    alone (a cached client, a self-contained token) has none to commit."""
    session: Session | None = g.get("db")
    return session


def end_reads() -> None:
    """Before network I/O in a request (``idp.oidc.outbound``): end the transaction its reads
    opened, so that no lock is held while a remote server answers (on SQLite every
    transaction holds the write lock). Called only where the request has written nothing yet
    (client authentication, a request object); the next statement begins a new one."""
    session: Session | None = g.get("db") if has_request_context() else None
    if session is not None and session.in_transaction():
        session.commit()


def client(client_id: str) -> Client | None:
    """A live client to read (not to change): a snapshot at most a couple of seconds old."""
    found, remembered = services().clients.lookup(db, client_id)
    if remembered:
        g.setdefault("remembered_clients", set()).add(client_id)
    return found


def release_policies(client_pk: int) -> Policies:
    """The client's release policy to apply (not to change): at most a couple of seconds old.
    No session is opened when it is remembered."""
    return services().release_policies.get(db, client_pk)


def client_by_pk(pk: int) -> Client | None:
    """``client`` by primary key, for the client of a stored token or grant."""
    return services().clients.by_pk(db, pk)


def forget_cached_clients() -> bool:
    """Forget the remembered clients this request used; True when there were any, so that
    a check that failed on them is worth making again on fresh rows."""
    remembered: set[str] = g.pop("remembered_clients", set())
    for client_id in remembered:
        services().clients.forget(client_id)
    return bool(remembered)


def _close_session(_exc: BaseException | None) -> None:
    for name in ("db", "read_db", "read_connection"):
        session = g.pop(name, None)
        if session is not None:
            session.close()  # rolls back whatever was not committed
