"""The application factory: binds settings, database, directories and keys to a Flask app."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp import context
from idp.admin.internal_client import ensure_admin_client
from idp.admin.registry import sync_static_clients
from idp.directory.registry import build_directories
from idp.errors import DatabaseNotReady
from idp.identity.throttle import build_throttle
from idp.metrics import web as metrics_web
from idp.oidc.key_rotation import retention, settle
from idp.oidc.keys import ensure_keys
from idp.oidc.live_keys import LiveKeyRing
from idp.oidc.server import create_server
from idp.settings import Settings
from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.migrate import ensure_current, hold_startup_lock
from idp.web import access_log, csrf, errors, i18n, lanes, raw_request, request_id, security
from idp.web import account as account_views
from idp.web import admin as admin_views
from idp.web import api as api_views
from idp.web import api_clients as api_clients_views
from idp.web import api_deliveries as api_deliveries_views
from idp.web import health as health_views
from idp.web import helpdesk as helpdesk_views
from idp.web import login as login_views
from idp.web import logout as logout_views
from idp.web import oidc as oidc_views
from idp.web import passes as passes_views
from idp.web import registration as registration_views
from idp.web.framework import CampusFlask

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Flask:
    """Refuses to build an app on a database behind the migrations (``DatabaseNotReady``)."""
    engine = make_engine(settings.database.url)
    try:
        ensure_current(engine)
    except DatabaseNotReady:
        engine.dispose()
        raise
    sessions = make_session_factory(engine)
    with sessions() as db:
        hold_startup_lock(db)  # another instance starting now waits for this one's commit
        ensure_keys(db, settings.server.secret_key)
        # Activations are recorded and due keys retired at every start (and by `idp keys`).
        settle(db, now=utcnow(), retention=retention(settings), actor="system")
        sync_static_clients(db, settings)
        ensure_admin_client(db, settings)
        db.commit()
    # Loaded before any request; afterwards reloaded only when keys change (idp.oidc.live_keys).
    keys = LiveKeyRing(engine, sessions, settings.server.secret_key, retention=retention(settings),
                       check_every=timedelta(seconds=settings.keys.reload_check_s))

    app = CampusFlask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.server.secret_key,
        SESSION_COOKIE_NAME="campus_id",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.server.dev_mode,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.server.session_lifetime_s),
    )
    context.init_app(app, context.Services(
        settings, engine, sessions, build_directories(settings), keys,
        throttle=build_throttle(settings.throttle),
    ))
    server = app.extensions[oidc_views.SERVER] = create_server(app)
    lanes.init_app(app, server, documents=oidc_views.documents(app))  # innermost: before ProxyFix
    if settings.server.trust_forwarded_headers:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    raw_request.init_app(app, settings.server.issuer,  # first: see its init_app
                         forwarded=settings.server.trust_forwarded_headers)
    for module in (i18n, csrf, security, errors, access_log):
        module.init_app(app)
    app.register_blueprint(oidc_views.bp)
    app.register_blueprint(login_views.bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(passes_views.bp)
    app.register_blueprint(logout_views.bp)
    app.register_blueprint(registration_views.bp)
    app.register_blueprint(api_views.bp)
    app.register_blueprint(api_deliveries_views.bp)
    admin_views.init_app(app)
    helpdesk_views.init_app(app)
    app.register_blueprint(api_clients_views.bp)
    health_views.init_app(app)
    metrics_web.init_app(app)
    request_id.init_app(app)  # last: the outermost layer, around every other one
    return app
