"""The checks of ``/readyz``, each a plain function that raises ``NotReady`` with a public
detail or returns one. Details never name a host, a URL or a secret: the log has the reason."""

from __future__ import annotations

import logging
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from idp.storage.migrate import current_revision, first_line

log = logging.getLogger(__name__)


class NotReady(Exception):
    """A part that is down; ``str()`` is the public detail."""


def database_revision(engine: Engine) -> str | None:
    """One round trip that proves the database answers and says its migration revision."""
    try:
        return current_revision(engine)
    except sa_exc.DBAPIError as error:
        log.warning("readiness: the database does not answer: %s", first_line(error))
        raise NotReady(f"the database does not answer ({type(error.orig or error).__name__})"
                       ) from error
    except sa_exc.SQLAlchemyError as error:
        log.warning("readiness: the database does not answer: %s", type(error).__name__)
        raise NotReady(f"the database does not answer ({type(error).__name__})") from error


def migrations_detail(revision: str | None, head: str | None) -> str:
    """Public detail of the migration check; raises ``NotReady`` when not at ``head``."""
    if revision != head:
        where = "an empty database" if revision is None else f"revision {revision}"
        raise NotReady(f"the database is at {where}, this version needs revision {head}: "
                       "run `idp db upgrade`")
    return f"at revision {head}"


def redis_ping(client: Any, breaker_open: bool) -> str:
    """Redis answers a PING (an open circuit breaker: down, without waiting)."""
    if breaker_open:
        raise NotReady("Redis failed to answer the login throttle; waiting for it to answer again")
    try:
        client.ping()
    except redis.RedisError as error:
        log.warning("readiness: Redis does not answer: %s", type(error).__name__)
        raise NotReady(f"Redis does not answer ({type(error).__name__})") from error
    return "answers"
