"""The metrics' Flask wiring: every answer is timed and counted by endpoint name (never by
path, which a caller chooses), the audit events and the database pool are watched
(``idp.metrics.hooks``), and ``/metrics`` answers to the bearer token when one is set.

With ``[metrics] enabled = false`` nothing is installed and ``/metrics`` is a 404; so it is
when only a separate ``listen`` address is set (``idp.metrics.listener`` serves it there).
"""

from __future__ import annotations

import functools
import time

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import Counter, Histogram

from idp import context
from idp.metrics.bearer import bearer_matches
from idp.metrics.collectors import DeliveryQueue, scrape
from idp.metrics.definitions import REQUEST_SECONDS, REQUESTS
from idp.metrics.hooks import count_audit_events, watch_pool

bp = Blueprint("metrics", __name__)
EXTENSION = "campus_id_metrics"
STARTED = "campus_id.metrics.started"  # WSGI environ key: perf_counter() at the first hook


def init_app(app: Flask) -> None:
    services = context.services_of(app)
    settings = services.settings.metrics
    if not settings.enabled:
        return
    count_audit_events(services.sessions)
    watch_pool(services.engine)
    if services.reads is not None:  # made now, before a server forks its workers
        watch_pool(services.reads)
    app.before_request_funcs.setdefault(None, []).insert(0, _started)  # before any refusal
    app.after_request(_finished)
    if settings.token:
        app.extensions[EXTENSION] = DeliveryQueue(services.engine, services.settings.connectors)
        app.register_blueprint(bp)


def _started() -> None:
    request.environ[STARTED] = time.perf_counter()


def _finished(response: Response) -> Response:
    endpoint = request.endpoint or "none"
    started = request.environ.get(STARTED)
    if started is not None:
        _timer(endpoint).observe(time.perf_counter() - started)
    _counter(endpoint, response.status_code).inc()
    return response


def observe(endpoint: str, status: int, started: float) -> None:
    """An answer made before Flask (``idp.web.lanes``), timed and counted as Flask's are."""
    _timer(endpoint).observe(time.perf_counter() - started)
    _counter(endpoint, status).inc()


# A label set's child, found by a C-level cache instead of prometheus_client's labels(), which
# validates and locks each time (about a third of a request's metrics cost). Bounded: endpoints
# and status codes are the app's own.
@functools.cache
def _timer(endpoint: str) -> Histogram:
    return REQUEST_SECONDS.labels(endpoint)


@functools.cache
def _counter(endpoint: str, status: int) -> Counter:
    return REQUESTS.labels(endpoint, str(status))


@bp.get("/metrics")
def metrics() -> Response:
    token = context.services().settings.metrics.token
    if not bearer_matches(request.headers.get("Authorization"), token):
        return Response("A bearer token is required.\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"',
                                 "Cache-Control": "no-store"})
    body, content_type = scrape(current_app.extensions[EXTENSION])
    return Response(body, 200, content_type=content_type, headers={"Cache-Control": "no-store"})
