"""The helpdesk console (``/helpdesk``): staff find a person, see their whole campus identity
and fix it, each change previewed, with a reason, and audited. One blueprint
(``blueprint``), its pages in ``views``, its words in ``texts``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    import idp.web.helpdesk.views  # noqa: F401  (its routes join the blueprint)
    from idp.web.helpdesk import texts_merge, views_merge  # noqa: F401  (merge, split, undo)
    from idp.web.helpdesk.blueprint import bp
    from idp.web.helpdesk.texts import register

    register()
    texts_merge.register()
    app.register_blueprint(bp)
