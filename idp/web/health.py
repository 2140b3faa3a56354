"""``/healthz`` (the process answers; nothing else is asked) and ``/readyz`` (the parts the
provider needs, ``idp.health.readiness``: 503 when a required one is down), for load
balancers and orchestrators. JSON without a session, never cached."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify

from idp import context
from idp.health.readiness import Readiness, build_readiness

bp = Blueprint("health", __name__)
EXTENSION = "campus_id_readiness"


def init_app(app: Flask) -> None:
    services = context.services_of(app)
    app.extensions[EXTENSION] = build_readiness(services.settings, services.engine,
                                                services.directories, services.throttle.store)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(jsonify(status="ok"), 200)


@bp.get("/readyz")
def readyz() -> Response:
    readiness: Readiness = current_app.extensions[EXTENSION]
    report = readiness.report()
    return _no_store(jsonify(report.as_json()), 200 if report.ready else 503)


def _no_store(response: Response, status: int) -> Response:
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
