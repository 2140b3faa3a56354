"""The helpdesk console (``/helpdesk``): staff find a person, see their whole campus identity
and fix it, each change previewed, with a reason, and audited. One blueprint
(``blueprint``), its pages in ``views``, its words in ``texts``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    import idp.web.helpdesk.views  # noqa: F401  (its routes join the blueprint)

    # Each module's routes join the blueprint: link, card, retry, throttle (views_actions),
    # the review queue (views_review), merge, split, undo (views_merge).
    from idp.web.helpdesk import (  # noqa: F401
        texts_actions,
        texts_merge,
        texts_review,
        views_actions,
        views_merge,
        views_review,
    )
    from idp.web.helpdesk.blueprint import bp
    from idp.web.helpdesk.texts import register

    register()
    texts_actions.register()
    texts_review.register()
    texts_merge.register()
    app.register_blueprint(bp)
