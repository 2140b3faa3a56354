"""The organization admin web UI (``/admin``): staff sign in through Campus ID itself and
manage their organization's relying parties and registration tokens. One blueprint, its views
split by page group (``signin``, ``clients``, ``tokens``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    import idp.web.admin.clients
    import idp.web.admin.deliveries
    import idp.web.admin.release
    import idp.web.admin.signin
    import idp.web.admin.tokens  # noqa: F401  (their routes join the blueprint)
    from idp.web.admin.blueprint import bp
    from idp.web.admin.texts import register

    register()
    app.register_blueprint(bp)
