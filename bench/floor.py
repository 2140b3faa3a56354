"""Apps that do nothing, served exactly as the provider is (``idp.web.serve.run_app``: the same
engine, workers, threads, access log and log set-up as `idp serve`): their rates are the most any
endpoint could reach here, so the table can be read as a fraction of them. ``app`` is bare
WSGI; ``flask_app`` is one Flask route, the framework every endpoint of the provider runs in.

``python -m bench.floor ENGINE APP PORT WORKERS THREADS`` serves ``APP`` (``app`` or
``flask_app``) on 127.0.0.1:PORT until SIGTERM, its log lines (access log included) on standard
output and error as `idp serve` writes them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response

BODY = b'{"ok":true}'


def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/")
def nothing() -> Response:
    return Response(BODY, mimetype="application/json")


def main(argv: list[str]) -> None:
    from idp.logs import configure
    from idp.settings.model import LoggingSettings, ServerEngine
    from idp.web.serve import run_app

    engine, name, port, workers, threads = argv
    configure(LoggingSettings())  # as `idp serve` does, with the defaults
    served = {"app": app, "flask_app": flask_app}[name]
    run_app(served, ServerEngine(engine), "127.0.0.1", int(port), workers=int(workers),
            threads=int(threads))


if __name__ == "__main__":
    main(sys.argv[1:])
