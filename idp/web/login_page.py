"""The login page itself: pick a university, type the login and password you have there.

Shown where a login is needed: at ``/authorize`` for the request that waits for it (so a
login costs the browser no redirect before the form; its language switch reloads that
request), again by the form's post when it failed (whose language switch leads to ``GET
/login?rid=``), and at ``GET /login`` for My Campus ID's sign-in. The form posts to ``/login``
with the waiting request's id only (``idp.web.pending``).

Typing ``ivanov@tpu.ru`` selects the organization by its scope.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from idp import context
from idp.settings import OrganizationSettings
from idp.web.i18n import current_language

MAX_USERNAME = 256
NEXT_PAGES = {"account": "/account"}  # ?next=account: back to My Campus ID after the login


def for_request(rid: str, params: dict[str, str], next_page: str = "") -> Any:
    """The empty form for the waiting request ``rid`` (its ``login_hint`` filled in)."""
    username, org = split_hint(params.get("login_hint", ""))
    return render(rid, params, username=username, organization=org, next_page=next_page)


def render(rid: str, params: dict[str, str], error: str | None = None, *, username: str = "",
           organization: str = "", status: int = 200, next_page: str = "") -> Any:
    client = context.client(params.get("client_id", "")) if params else None
    page = render_template("login.html", rid=rid, client=client, organizations=organization_choices(),
                           username=username, organization=organization, error=error,
                           next_page=next_page or next_page_name(request.values.get("next", "")))
    return page, status


def next_page_name(name: str) -> str:
    """Where to go after a login without an authorization request: a name from a fixed list
    (never a URL, so no open redirect)."""
    return name if name in NEXT_PAGES else ""


def organization_choices() -> list[tuple[str, str]]:
    """(id, name in the page language) of every organization, for the pages' choosers (the
    language asked once: reading it parses the request's preferences)."""
    language = current_language()
    return [(o.id, org_label(o, language)) for o in context.settings().organizations.values()]


def split_hint(value: str) -> tuple[str, str]:
    """``ivanov@tpu.ru`` → (``ivanov``, ``tpu``) when the scope is an organization's."""
    value = value[:MAX_USERNAME]
    name, sep, scope = value.rpartition("@")
    if sep:
        for org in context.settings().organizations.values():
            if scope.lower() == org.scope.lower():
                return name, org.id
    return value, ""


def org_label(org: OrganizationSettings, language: str | None = None) -> str:
    """The organization's name in ``language`` (the page's when not given)."""
    language = language if language is not None else current_language()
    return org.name_ru if language == "ru" and org.name_ru else org.name
