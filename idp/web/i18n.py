"""Russian and English for the pages people see: chosen by a ``lang`` cookie set by the
language switch, else by ``Accept-Language``; Russian when neither says."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, g, request
from jinja2 import pass_context
from jinja2.runtime import Context
from werkzeug.exceptions import HTTPException

from idp.web.messages import MESSAGES

LANGUAGES = ("ru", "en")
COOKIE = "lang"


def current_language() -> str:
    """``g.ui_language`` when a view set one, else the query's or the cookie's choice, else the
    best match of Accept-Language, else Russian. A page asks once per text: what the request
    itself says is worked out once and kept in ``g``."""
    chosen = g.get("ui_language")
    if chosen:
        return chosen if chosen in LANGUAGES else _requested_language(accept_only=True)
    return _requested_language()


def _requested_language(*, accept_only: bool = False) -> str:
    key = "accepted_language" if accept_only else "requested_language"
    found: str | None = g.get(key)
    if found is None:
        chosen = None if accept_only else (request.args.get(COOKIE) or request.cookies.get(COOKIE))
        found = chosen if chosen in LANGUAGES else (
            request.accept_languages.best_match(LANGUAGES) or "ru")
        setattr(g, key, found)
    return found


def translate(key: str, **values: str) -> str:
    text = MESSAGES[current_language()].get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


def plural(n: int) -> str:
    """The plural category of ``n`` (CLDR: one, few, many) in the current language."""
    if current_language() != "ru":
        return "one" if n == 1 else "many"
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def wait_text(seconds: int) -> str:
    """A rough duration to wait: "a few seconds", "about 30 seconds", "about 2 minutes"."""
    if seconds <= 5:
        return translate("wait.few_seconds")
    if seconds < 60:
        return translate("wait.seconds", n=str(-(-seconds // 5) * 5))
    minutes = -(-seconds // 60)
    return translate(f"wait.minutes.{plural(minutes)}", n=str(minutes))


def switch_url() -> str:
    """The same page in the other language (GET parameters kept). The query as it came, with
    the language added, when it names none: the login form at ``/authorize`` carries a whole
    authorization request, not worth decoding and quoting again for one link."""
    other = "en" if current_language() == "ru" else "ru"
    rid = _posted_rid()
    if not rid and COOKIE not in request.args:
        query = request.query_string.decode("ascii", "replace")  # ASCII: idp.web.raw_request
        return f"{request.path}?{query}&{COOKIE}={other}" if query else f"{request.path}?{COOKIE}={other}"
    args = request.args.to_dict(flat=False)
    args[COOKIE] = [other]
    if rid:
        args["rid"] = [rid]
    return request.path + "?" + urlencode(args, doseq=True)


def _posted_rid() -> str:
    """The login form's request id, when a posted form carries one. An error page about a
    body that could not be read (too large, too many parts) gets none: reading the body
    again would only fail again."""
    if request.method != "POST":
        return ""
    try:
        return request.form.get("rid", "")
    except HTTPException:
        return ""


# The page's language, worked out once per page (``init_app``) rather than once per text.
PAGE_LANGUAGE = "_page_language"


@pass_context
def page_language(page: Context) -> str:
    """``lang()`` in a template: ``current_language`` as it was when the page began."""
    found: str | None = page.get(PAGE_LANGUAGE)
    return found or current_language()


@pass_context
def page_text(page: Context, key: str, **values: str) -> str:
    """``t()`` in a template: ``translate`` in the page's language."""
    language: str | None = page.get(PAGE_LANGUAGE)
    text = MESSAGES[language or current_language()].get(key) or MESSAGES["en"].get(key, key)
    return text.format(**values) if values else text


class PageTexts:
    """``texts[key]`` in a template: ``t(key)`` for a text without values, looked up as an item
    rather than called (a call from a template costs several of Jinja's own)."""

    __slots__ = ("language",)

    def __init__(self, language: str) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        return MESSAGES[self.language].get(key) or MESSAGES["en"].get(key, key)


PAGE_TEXTS = {language: PageTexts(language) for language in LANGUAGES}


def page_context() -> dict[str, object]:
    """What every page gets: its language, and its texts in that language."""
    language = current_language()
    return {PAGE_LANGUAGE: language, "texts": PAGE_TEXTS[language]}


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=page_text, lang=page_language, lang_switch_url=switch_url)
    app.context_processor(page_context)

    @app.after_request
    def remember_choice(response: Response) -> Response:
        if COOKIE not in request.environ.get("QUERY_STRING", ""):
            return response  # most requests: no need to parse the query string
        chosen = request.args.get(COOKIE)
        if chosen in LANGUAGES:
            response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax",
                                httponly=True, secure=request.is_secure)
        return response
