"""Log lines: one JSON object a line (``[logging] format = "json"``, the default), or plain text
(``"text"``, the default in dev mode), each with the id of the request, job or command it was
written in (``idp.request_id``), so that the lines of one request can be found together and
next to its audit events (``audit_events.request_id``).

A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``request_id``,
the fields a caller passed with ``extra=`` and, when there is one, the ``exception`` with its
traceback as one string. Passwords and tokens are never logged by the code; as a second guard,
an ``extra`` field whose name says it holds a secret (``password``, ``client_secret``,
``access_token``, ``code``...) is written as ``"[redacted]"``.

``configure`` is called by the long-running processes (``idp serve``, ``idp worker``), not by
the application factory: a library does not take over the process's logging.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from idp import request_id as request_ids
from idp.settings.model import LogFormat, LoggingSettings

REDACTED = "[redacted]"
# Field names (lower case) whose value is never written: a guard, should a caller pass one.
SECRET_FIELDS = frozenset({
    "password", "passwd", "secret", "client_secret", "token", "access_token", "refresh_token",
    "id_token", "id_token_hint", "code", "code_verifier", "authorization", "cookie",
    "assertion", "client_assertion", "request", "registration_access_token", "secret_key",
})
_SECRET_SUFFIXES = ("password", "_secret", "_token")
# What every LogRecord has: the rest of a record's attributes are ``extra`` fields.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "taskName",
}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Gives each record the current request's id (``request_id``; ``None`` outside any), unless
    the caller passed one with ``extra=`` (an access log line written after the request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_ids.current()
        return True


_NAMES = "|".join(sorted(SECRET_FIELDS - {"request", "secret", "token"}, key=len, reverse=True))
_SCRUBS = (
    # 'access_token': 'x'  "code": "x"  (a dict's repr or JSON inside a message)
    (re.compile(rf"""(?i)(?<![\w-])(['"]?(?:{_NAMES})['"]?\s*:\s*)(['"])(?:\\.|(?!\2).)*\2"""),
     rf"\1\2{REDACTED}\2"),
    # access_token=x  code=x  (a query string or key=value text)
    (re.compile(rf"(?i)\b((?:{_NAMES})=)[^&\s'\",;)]+"), rf"\1{REDACTED}"),
    # Authorization header values
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
)


def scrub(text: str) -> str:
    """``text`` with what looks like a secret value (a token in a dict's repr, a ``code=`` in a
    query, a Bearer credential) replaced by ``[redacted]``."""
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """The second guard on messages: a library's debug line that prints a token response
    (Authlib: "Issue token {...}") is written with its values redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_FIELDS or lowered.endswith(_SECRET_SUFFIXES)


class JsonFormatter(logging.Formatter):
    """One line of JSON per record (newlines in a message or a traceback are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_ids.current(),
        }
        for name, value in vars(record).items():
            if name in _RECORD_FIELDS or name.startswith("_") or name in body:
                continue
            body[name] = REDACTED if is_secret_field(name) else value
        if record.exc_info:
            body["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            body["exception"] = scrub(record.exc_text)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    """Plain text for a developer's terminal: time, level, logger, request id, message, and the
    ``extra`` fields as ``name=value`` (secret ones redacted as in JSON)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        given = getattr(record, "request_id", None)
        record.request_id = given or request_ids.current() or "-"
        try:
            line = super().format(record)
        finally:
            record.request_id = given  # as it came, for the next handler
        extra = [f"{name}={REDACTED if is_secret_field(name) else value}"
                 for name, value in vars(record).items()
                 if name not in _RECORD_FIELDS and not name.startswith("_")]
        if not extra:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} {' '.join(extra)}{newline}{rest}"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (as ``logging.lastResort``)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def formatter(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format is LogFormat.JSON else TextFormatter()


def handler(settings: LoggingSettings, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``settings``' format to ``stream`` (by default standard error), each
    record with its request id."""
    made: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    made.setFormatter(formatter(settings))
    made.addFilter(RequestIdFilter())
    made.addFilter(RedactingFilter())
    return made


def configure(settings: LoggingSettings, stream: TextIO | None = None, *,
              force: bool = False) -> logging.Handler | None:
    """The root logger writes every record of ``settings.level`` and above through one handler
    of ``settings.format`` (replacing the one an earlier call installed); None, and nothing
    changed, when someone else already set the process's logging up (a test runner, a program
    that embeds the provider), unless ``force``."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if not force and len(ours) != len(root.handlers):
        return None
    for old in ours:
        root.removeHandler(old)
    installed = handler(settings, stream)
    setattr(installed, _MARK, True)
    root.addHandler(installed)
    root.setLevel(settings.level.value)
    return installed


_MARK = "_campus_id_handler"
