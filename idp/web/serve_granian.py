"""``idp serve`` on granian, a Rust HTTP server, through its WSGI interface: the default engine
(``[server] engine``; gunicorn stays the other choice, ``idp.web.serve``).

- The app is built once, before the workers start: granian forks its worker processes (the
  start method is made ``fork`` explicitly) and each calls ``load``, which hands it the app
  already built. What was made before the fork, such as the counters the client and release
  caches share (``idp.storage.snapshot_cache``), is shared by every worker as under gunicorn;
  each worker opens its own database connections (``after_fork``).
- Workers and threads come from ``[server] workers`` and ``threads`` (granian's blocking
  threads: the Python threads of a worker). A worker that dies is started again.
- https with ``tls_cert_file``/``tls_key_file``, TLS 1.2 or later (granian's own default is
  1.3 only). HTTP/1.1, as under gunicorn.
- SIGTERM or SIGINT: the workers stop taking connections, finish what they hold, and are
  killed after ``GRACEFUL_S``. SIGHUP: the workers are replaced one after another by fresh
  forks of the same app (the configuration is not read again, as under gunicorn with the app
  built before forking).
- Connections spread over the workers (``[server] spread_connections``, more than one worker):
  a worker holding more than its share ends the extra ones after a response
  (``idp.web.connection_spread``).
- granian starts every request's WSGI environ from a copy of the worker's process environment
  (its ``wsgi.py``): an ``IDP__…`` secret given by environment variable would sit in every
  request's environ, and a variable named like a header (``HTTP_PROXY``) would read as one the
  client sent. ``WithoutProcessEnvironment`` takes those entries out before the app sees them
  (about 2 µs a request with 35 variables).
- The access log is ours (``idp.web.access_log.AccessLogged``, logger ``idp.access``): granian's
  own line has the query string and cannot show the client the request names, so it is off.
- A body the application refuses unread (over 64 KB, ``idp.web.raw_request``) is read and
  dropped before the answer, up to ``DRAIN_MAX``: granian would close the connection with the
  body unread, and a client still sending it could get a reset instead of the 413 (gunicorn
  reads such a body before the next request too).
- Slow clients: the TLS handshake and the request head are read by granian's Rust layer,
  without a Python thread, and a head not complete within ``HEADER_READ_TIMEOUT_MS`` ends the
  connection. A body, though, is read when the application asks for it, from a worker thread:
  a client that declares a body and sends it slowly holds that thread (docs/operations.md,
  "Slow clients").
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces, SSLProtocols
from granian.http import HTTP1Settings
from granian.server.mp import MPServer

from idp.web.access_log import AccessLogged
from idp.web.connection_spread import ConnectionSpread, SharedCounts
from idp.web.raw_request import REFUSED

GRACEFUL_S = 5  # what a worker still has in hand when told to stop, before it is killed
HEADER_READ_TIMEOUT_MS = 10_000  # the request head must arrive within this (gunicorn's worker: 10 s)
DRAIN_MAX = 16 * 1024 * 1024  # a refused body longer than this is left unread: the connection ends
_CHUNK = 64 * 1024


def run(app: Any, host: str, port: int, *, workers: int, threads: int,
        tls: tuple[str, str] | None, after_fork: Callable[[], None],
        spread_connections: bool = False) -> None:
    """Serve ``app`` (see ``idp.web.serve.run_app``)."""
    if multiprocessing.get_start_method() != "fork":  # Python 3.14 defaults to forkserver
        multiprocessing.set_start_method("fork", force=True)
    served: Any = WithoutProcessEnvironment(AccessLogged(DrainRefused(app)))
    spread = ConnectionSpread(served, port, SharedCounts(workers)) \
        if spread_connections and workers > 1 else None

    def load() -> Any:  # in each worker, right after the fork
        after_fork()
        served.names = process_environment_names()  # as granian copies it, after the fork
        if spread is None:
            return served
        spread.start()
        return spread

    # https served by granian itself, for set-ups without a reverse proxy
    https = {"ssl_cert": Path(tls[0]), "ssl_key": Path(tls[1]),
             "ssl_protocol_min": SSLProtocols.tls12} if tls else {}
    server = MPServer(
        "campus-id",  # a name only: the app is handed over by load, never imported
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS),
        websockets=False,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=GRACEFUL_S,
        **https,  # type: ignore[arg-type]
    )
    server.serve(target_loader=load, wrap_loader=False)


# What granian sets from the request itself or for WSGI: never taken out, whatever the
# process environment holds under the same name.
_FROM_THE_REQUEST = frozenset({
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "GATEWAY_INTERFACE",
    "SERVER_SOFTWARE", "RAW_URI",
})


def process_environment_names() -> tuple[tuple[str, str], ...]:
    """The process environment's entries granian copies into every environ: (name, value)."""
    return tuple((name, value) for name, value in os.environ.items()
                 if name not in _FROM_THE_REQUEST and not name.startswith("wsgi."))


class WithoutProcessEnvironment:
    """WSGI middleware: takes the process environment's entries out of a request's environ
    (see the module). A header of the same name as such a variable (``HTTP_…``) stays when
    its value differs, since then the client sent it."""

    def __init__(self, app: Any, names: tuple[tuple[str, str], ...] = ()) -> None:
        self.app = app
        self.names = names

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        for name, value in self.names:
            if environ.get(name) == value:
                del environ[name]
        return self.app(environ, start_response)


class DrainRefused:
    """WSGI middleware: reads and drops what is left of a refused body (see the module)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = environ.get("wsgi.input")
        answer = self.app(environ, start_response)
        if environ.get(REFUSED) == 413 and body is not None:
            read = 0
            while read <= DRAIN_MAX and (chunk := body.read(_CHUNK)):
                read += len(chunk)
        return answer
