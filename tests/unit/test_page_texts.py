"""A page's texts are looked up once per page (``i18n.page_context``): ``texts[key]`` and ``t()``
give what ``translate`` gives, in the language the page began with."""

from __future__ import annotations

import pytest
from flask import Flask, g, render_template_string

from idp.web import i18n


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_texts_are_translate(app: Flask, language: str) -> None:
    keys = [*sorted(i18n.MESSAGES["en"].keys() | i18n.MESSAGES[language].keys()), "no.such.key"]
    with app.test_request_context(f"/?lang={language}"):
        assert i18n.current_language() == language
        texts = i18n.page_context()["texts"]
        assert isinstance(texts, i18n.PageTexts)
        for key in keys:
            assert texts[key] == i18n.translate(key), key


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_a_page_in_either_way_reads_the_same(app: Flask, language: str) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        g.ui_language = language
        page = render_template_string(
            '{{ lang() }}|{{ t("login.heading") }}|{{ texts["login.heading"] }}|'
            '{{ t("login.for_client", client="<b>") }}|{{ texts["skip"] }}')
        expected = [language, i18n.translate("login.heading"), i18n.translate("login.heading"),
                    i18n.translate("login.for_client", client="&lt;b&gt;"),
                    i18n.translate("skip")]
        assert page.split("|") == expected
