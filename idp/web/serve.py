"""Serving: in production granian (the default, ``idp.web.serve_granian``) or gunicorn
(``[server] engine`` or ``idp serve --engine``), workers from the config and the app built once
before they fork; Werkzeug's reloader-free development server only in dev mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from werkzeug.serving import WSGIRequestHandler

from idp import context
from idp.app import create_app
from idp.settings import Settings
from idp.settings.model import ServerEngine
from idp.web.access_log import CLIENT, log_path


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


class AccessLog(Logger):  # type: ignore[misc]
    """gunicorn's logger with an access log line that holds no secret: address, time, method,
    path without its query, status, size, duration and the client the request names
    (``idp.web.access_log``). gunicorn's own line would hold the query string (codes,
    ``id_token_hint``, request objects) and the Referer."""

    FORMAT = '%(h)s %(t)s "%(m)s %(path)s" %(s)s %(b)s %(M)sms client=%(client)s'

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        full = super().atoms(resp, req, environ, request_time)
        atoms = {key: full[key] for key in ("h", "t", "m", "s", "b", "M")}
        atoms["path"] = log_path(environ)
        atoms["client"] = environ.get(CLIENT, "-")
        return atoms


class DevRequestLog(WSGIRequestHandler):
    """Werkzeug's development server (``--dev``), its request log cut the same way: the path
    without its query."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
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
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True,
                ssl_context=tls, request_handler=DevRequestLog)
        return
    run_app(app, ServerEngine(engine or settings.server.engine), host, port,
            workers=settings.server.workers, threads=settings.server.threads, tls=tls,
            after_fork=lambda: after_fork(app))


def after_fork(app: Flask) -> None:
    """What each worker does first, under either engine, once forked from the process that
    built ``app``."""
    app.extensions[context.EXTENSION].engine.dispose(close=False)  # its own database connections


def run_app(app: Any, engine: ServerEngine, host: str, port: int, *, workers: int, threads: int,
            tls: tuple[str, str] | None = None, after_fork: Callable[[], None] = lambda: None) -> None:
    """Serve the WSGI ``app``, already built, until a signal stops the server; ``tls`` is a
    certificate chain and key (PEM files). ``bench.floor`` serves its empty apps with it."""
    if engine is ServerEngine.GUNICORN:
        _serve_gunicorn(app, host, port, workers=workers, threads=threads, tls=tls,
                        after_fork=after_fork)
    else:
        from idp.web import serve_granian

        serve_granian.run(app, host, port, workers=workers, threads=threads, tls=tls,
                          after_fork=after_fork)


def _serve_gunicorn(app: Any, host: str, port: int, *, workers: int, threads: int,
                    tls: tuple[str, str] | None, after_fork: Callable[[], None]) -> None:
    def post_fork(_server: Any, _worker: Any) -> None:
        after_fork()

    _Gunicorn(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "post_fork": post_fork,
        "accesslog": "-",
        "access_log_format": AccessLog.FORMAT,
        "logger_class": AccessLog,
        "errorlog": "-",
        "timeout": 30,
        "graceful_timeout": 5,
        # https served by gunicorn itself, for set-ups without a reverse proxy
        **({"certfile": tls[0], "keyfile": tls[1]} if tls else {}),
    }).run()
