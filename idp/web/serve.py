"""Serving: in production granian (the default, ``idp.web.serve_granian``) or gunicorn
(``[server] engine`` or ``idp serve --engine``), workers from the config and the app built once
before they fork; Werkzeug's reloader-free development server only in dev mode.

Under every engine the access log is ours (``idp.web.access_log.AccessLogged``, logger
``idp.access``): one line per request in the configured format, JSON or text, with the
request's id (the one its other log lines and its audit events carry), and never a query
string. The servers' own access lines are off (gunicorn's, granian's) or kept only for what
never reached the application (Werkzeug's, for a request line it could not parse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from werkzeug.serving import WSGIRequestHandler, run_simple

from idp import context
from idp.app import create_app
from idp.settings import Settings
from idp.settings.model import ServerEngine
from idp.web.access_log import AccessLogged, log_path


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


class DevRequestLog(WSGIRequestHandler):
    """Werkzeug's development server (``--dev``): a request that reached the application is
    logged by ``AccessLogged``; Werkzeug's own line is left for one it refused before (a
    request line it could not parse), cut the same way: the path without its query."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if getattr(self, "environ", None) is not None:  # set once the application is called
            return  # (one request per connection: Werkzeug closes it after each)
        path = log_path({"RAW_URI": getattr(self, "path", "")})  # unset when the line was bad
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), path, code, size)


# gunicorn's threaded worker, handed whole requests only (slow clients cannot hold its threads)
WORKER_CLASS = "idp.web.serve_worker.WholeRequestWorker"


def serve(settings: Settings, host: str, port: int, *, dev: bool = False,
          engine: str | None = None) -> None:
    app = create_app(settings)
    tls = (settings.server.tls_cert_file, settings.server.tls_key_file) if settings.server.tls_cert_file \
        else None
    if dev:
        run_simple(host, port, AccessLogged(app), use_reloader=False, use_debugger=False,
                   threaded=True, ssl_context=tls, request_handler=DevRequestLog)
        return
    run_app(app, ServerEngine(engine or settings.server.engine), host, port,
            workers=settings.server.workers, threads=settings.server.threads, tls=tls,
            after_fork=lambda: after_fork(app), spread_connections=settings.server.spread_connections)


def after_fork(app: Flask) -> None:
    """What each worker does first, under either engine, once forked from the process that
    built ``app``."""
    app.extensions[context.EXTENSION].engine.dispose(close=False)  # its own database connections


def run_app(app: Any, engine: ServerEngine, host: str, port: int, *, workers: int, threads: int,
            tls: tuple[str, str] | None = None, after_fork: Callable[[], None] = lambda: None,
            spread_connections: bool = False) -> None:
    """Serve the WSGI ``app``, already built, until a signal stops the server; ``tls`` is a
    certificate chain and key (PEM files); ``spread_connections`` (granian, more than one
    worker): ``idp.web.connection_spread``. ``bench.floor`` serves its empty apps with it."""
    if engine is ServerEngine.GUNICORN:
        _serve_gunicorn(app, host, port, workers=workers, threads=threads, tls=tls,
                        after_fork=after_fork)
    else:
        from idp.web import serve_granian

        serve_granian.run(app, host, port, workers=workers, threads=threads, tls=tls,
                          after_fork=after_fork, spread_connections=spread_connections)


def _serve_gunicorn(app: Any, host: str, port: int, *, workers: int, threads: int,
                    tls: tuple[str, str] | None, after_fork: Callable[[], None]) -> None:
    def post_fork(_server: Any, _worker: Any) -> None:
        after_fork()

    _Gunicorn(AccessLogged(app), {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "post_fork": post_fork,
        "accesslog": None,  # ours instead (see the module): gunicorn's has the query string
        "errorlog": "-",
        "timeout": 30,
        "graceful_timeout": 5,
        # https served by gunicorn itself, for set-ups without a reverse proxy
        **({"certfile": tls[0], "keyfile": tls[1]} if tls else {}),
    }).run()
