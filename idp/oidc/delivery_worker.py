"""Back-channel deliveries off the request: a request commits the rows it queued (logout
tokens, Security Event Tokens) and hands their ids to its process's ``BackgroundDelivery``,
which posts them on a few threads of its own, each post under the ``[outbound]`` deadline, so
that no page waits for a relying party's receiver. What fails, or what a full queue turns
away, stays due in the database: ``idp logout deliver`` retries it.

The instance is found through the request's database session (``session.info``), so that
``hand_off`` serves every caller, web or command line, with one signature: a session of the
command line has none and delivers in place.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from idp import request_id as request_ids
from idp.oidc.backchannel import Signer, deliver
from idp.settings.model import OutboundSettings

log = logging.getLogger(__name__)

INFO_KEY = "background_delivery"
THREADS = 2
MAX_PENDING = 1000  # batches; beyond that the rows wait for `idp logout deliver`


class BackgroundDelivery:
    """Per process (its threads start at the first hand-off, after a server forked)."""

    def __init__(self, sessions: sessionmaker[Session], limits: OutboundSettings) -> None:
        self.sessions = sessions
        self.limits = limits
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="delivery")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, signer: Signer, ids: list[int]) -> None:
        with self._idle:
            if self._pending >= MAX_PENDING:
                log.warning("delivery queue full: %d deliveries wait for the next run", len(ids))
                return
            self._pending += 1
        self._pool.submit(self._run, signer, list(ids), request_ids.current())

    def _run(self, signer: Signer, ids: list[int], request_id: str | None) -> None:
        try:
            with request_ids.bound(request_id):
                self._deliver(signer, ids)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _deliver(self, signer: Signer, ids: list[int]) -> None:
        """In a thread of the pool, under the id of the request that handed ``ids`` over (each
        delivery's audit event carries the id its row was queued under)."""
        try:
            with self.sessions() as db:
                deliver(db, signer, ids, limits=self.limits)
        except Exception:  # a worker thread has no caller to tell; the rows stay due
            log.exception("background delivery of %s failed", ids)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing handed off is still being posted (tests, orderly shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


def attach(sessions: sessionmaker[Session], background: BackgroundDelivery) -> None:
    """Sessions made by ``sessions`` from now on hand their deliveries to ``background``."""
    sessions.configure(info={INFO_KEY: background})


def hand_off(db: Session, signer: Signer, ids: list[int],
             limits: OutboundSettings | None = None) -> None:
    """After the caller committed the rows ``ids``: to the background deliverer of ``db``'s
    process when it has one, else one attempt here (under ``limits``)."""
    if not ids:
        return
    background = db.info.get(INFO_KEY)
    if isinstance(background, BackgroundDelivery):
        background.submit(signer, ids)
    else:
        deliver(db, signer, ids, limits=limits)
