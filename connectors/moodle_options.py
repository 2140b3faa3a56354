"""The options of a ``type = "moodle"`` connector, checked with every problem listed at once.

``url`` (the Moodle site's address, ``wwwroot``), ``token`` (from ``token_file``: the web
service token of an external service holding the functions the connector calls),
``timeout_s`` (the whole delivery, every call included; default 10, at most 120),
``courses`` (resource id -> Moodle course id), ``role_id`` (the role a course enrolment
gives; default 5, Moodle's student), ``cohorts`` (organization id -> cohort idnumber) and
``auth`` (the authentication plugin of the users it creates; default ``oauth2``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from connectors.moodle_ws import ENDPOINT
from connectors.options import timeout_problem, unknown_keys, url_problem

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
DEFAULT_ROLE_ID = 5  # "student" on a standard Moodle site
DEFAULT_AUTH = "oauth2"
KEYS = frozenset({"url", "token", "timeout_s", "courses", "role_id", "cohorts", "auth"})
_AUTH = re.compile(r"[a-z][a-z0-9_]{0,49}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")  # printable, no space: it goes into a form body
SITE_COURSE_ID = 1  # Moodle's front page: nobody can be enrolled in it


@dataclass(frozen=True)
class MoodleOptions:
    endpoint: str  # <url>/webservice/rest/server.php
    token: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    courses: Mapping[str, int] = field(default_factory=dict)
    role_id: int = DEFAULT_ROLE_ID
    cohorts: Mapping[str, str] = field(default_factory=dict)
    auth: str = DEFAULT_AUTH


def problems(options: Mapping[str, Any]) -> list[str]:
    """Every problem with ``options``, each as ``key: message`` (the token never quoted)."""
    found = unknown_keys(options, KEYS)
    url = options.get("url")
    if url is None:
        found.append("url: required (the Moodle site's address, e.g. https://moodle.tpu.ru)")
    elif (problem := _url_problem(url)) is not None:
        found.append(f"url: {problem}")
    token = options.get("token")
    if token is None:
        found.append("token: required (token_file: a file holding the web service token)")
    elif not isinstance(token, str) or not _TOKEN.fullmatch(token):
        found.append("token: must be printable characters without spaces")
    if (problem := timeout_problem(options, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S)) is not None:
        found.append(problem)
    found.extend(_table_problems(options, "courses", _course_problem))
    found.extend(_table_problems(options, "cohorts", _cohort_problem))
    role = options.get("role_id", DEFAULT_ROLE_ID)
    if isinstance(role, bool) or not isinstance(role, int) or role < 1:
        found.append("role_id: must be a Moodle role id, a whole number above 0")
    auth = options.get("auth", DEFAULT_AUTH)
    if not isinstance(auth, str) or not _AUTH.fullmatch(auth) or auth in ("mnet", "webservice"):
        found.append("auth: must be the name of a Moodle authentication plugin (not mnet or "
                     "webservice), e.g. oauth2")
    return found


def parse(options: Mapping[str, Any]) -> MoodleOptions:
    """The options that ``problems`` accepts, typed (``ValueError`` otherwise)."""
    found = problems(options)
    if found:
        raise ValueError("; ".join(found))
    return MoodleOptions(
        endpoint=str(options["url"]).rstrip("/") + ENDPOINT, token=options["token"],
        timeout_s=float(options.get("timeout_s", DEFAULT_TIMEOUT_S)),
        courses={str(k): int(v) for k, v in options.get("courses", {}).items()},
        role_id=int(options.get("role_id", DEFAULT_ROLE_ID)),
        cohorts={str(k): str(v) for k, v in options.get("cohorts", {}).items()},
        auth=str(options.get("auth", DEFAULT_AUTH)))


def _url_problem(url: object) -> str | None:
    problem = url_problem(url, bad="must be an http(s) URL: the Moodle site's address (its wwwroot)")
    if problem is None and isinstance(url, str):
        parts = urlsplit(url)
        if parts.query or parts.fragment or url.rstrip("/").endswith(ENDPOINT):
            return f"the site's address only, without {ENDPOINT}, query or fragment"
    return problem


def _table_problems(options: Mapping[str, Any], key: str,
                    check: Callable[[object], str | None]) -> list[str]:
    table = options.get(key, {})
    if not isinstance(table, Mapping):
        return [f"{key}: must be a table"]
    return [f"{key}.{name}: {problem}" for name, value in table.items()
            if (problem := check(value)) is not None]


def _course_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a Moodle course id, a whole number above 0"
    if value == SITE_COURSE_ID:
        return "1 is the site's front page, in which nobody can be enrolled"
    return None


def _cohort_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return "must be a cohort's idnumber (1 to 100 characters)"
    return None
