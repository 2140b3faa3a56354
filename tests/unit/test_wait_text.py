"""The throttled login's "please wait ..." in both languages, with Russian plural forms."""

from __future__ import annotations

import pytest
from flask import Flask

from idp.web.i18n import wait_text


@pytest.mark.parametrize(("seconds", "en", "ru"), [
    (1, "a few seconds", "несколько секунд"),
    (5, "a few seconds", "несколько секунд"),
    (7, "about 10 seconds", "примерно 10 секунд"),
    (42, "about 45 seconds", "примерно 45 секунд"),
    (60, "about 1 minute", "примерно 1 минуту"),
    (61, "about 2 minutes", "примерно 2 минуты"),
    (300, "about 5 minutes", "примерно 5 минут"),
    (660, "about 11 minutes", "примерно 11 минут"),
    (1260, "about 21 minutes", "примерно 21 минуту"),
    (1380, "about 23 minutes", "примерно 23 минуты"),
])
def test_rough_waits(seconds: int, en: str, ru: str) -> None:
    app = Flask(__name__)
    for language, expected in (("en", en), ("ru", ru)):
        with app.test_request_context(headers={"Accept-Language": language}):
            assert wait_text(seconds) == expected
