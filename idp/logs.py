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

Access lines (logger ``idp.access``, one per request) are the one record every request writes,
so they take a shorter way when this module's handler is the process's only one: ``access``
formats the line itself, exactly as the configured formatter would (the same fields, the same
redaction), and the handler writes them in batches: when 64 are waiting, before any other
record (so the order holds), when 0.2 s have passed (a thread of the handler's) and at exit.
The way through ``logging.Logger.info`` and a write per line cost more than all of a fast
endpoint's own work under load (one pinned worker, client credentials: 1,596 requests/s with
it, 2,253 without any line). Anywhere else (a program that set up its own logging) the line
goes through ``logging`` as any record.
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import os
import re
import sys
import threading
import time
import weakref
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
ACCESS_LOGGER = "idp.access"
BATCH_LINES = 64  # access lines kept before they are written
BATCH_AGE_S = 0.2  # the longest an access line waits to be written


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

_MAY_HOLD_SECRET = re.compile(r"(?i)[=:]|bearer|basic|dpop")  # what one of the patterns needs


def scrub(text: str) -> str:
    """``text`` with what looks like a secret value (a token in a dict's repr, a ``code=`` in a
    query, a Bearer credential) replaced by ``[redacted]``."""
    if not _MAY_HOLD_SECRET.search(text):
        return text
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


class BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes access lines in batches (see the module) and every other
    record at once, after the access lines before it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        self._flusher_pid = 0  # the process whose flusher thread runs (a fork has none)
        _BATCHING.add(self)

    def handle(self, record: logging.LogRecord) -> bool:
        if record.name != ACCESS_LOGGER:
            return bool(super().handle(record))
        if not self.filter(record):
            return False
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as emit: a record that cannot be formatted must not fail a request
            self.handleError(record)
            return True
        self.keep(line)
        return True

    def keep(self, line: str) -> None:
        """Write ``line`` (a whole line, formatted) with the next batch."""
        self._waiting.append(line)  # one bytecode: safe between threads without the lock
        if len(self._waiting) >= BATCH_LINES:
            self.flush()
        elif self._flusher_pid != os.getpid():
            self._start_flusher()

    def emit(self, record: logging.LogRecord) -> None:
        self._write_waiting()
        super().emit(record)

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_waiting()
            super().flush()
        finally:
            self.release()

    def _write_waiting(self) -> None:
        if not self._waiting:
            return
        self.acquire()
        try:
            lines, self._waiting = self._waiting, []
            if lines:
                self.stream.write("".join(lines))
        except Exception:  # as StreamHandler.emit would: report, never raise into a request
            self.handleError(logging.makeLogRecord({"msg": "access lines not written"}))
        finally:
            self.release()

    def _start_flusher(self) -> None:
        with _FLUSHER_START:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            # A multiprocessing child (granian's workers) ends without ``atexit``, at its
            # finalizers, which a fork starts without: registered here, in the process itself.
            multiprocessing.util.Finalize(self, self.flush, exitpriority=0)
            threading.Thread(target=self._flush_now_and_then, name="access-log-flusher",
                             daemon=True).start()

    def _flush_now_and_then(self) -> None:
        pid = os.getpid()
        while self._flusher_pid == pid:
            threading.Event().wait(BATCH_AGE_S)
            if self._waiting:
                self.flush()


_FLUSHER_START = threading.Lock()
_BATCHING: weakref.WeakSet[BatchingHandler] = weakref.WeakSet()


def _write_all_waiting() -> None:
    for batching in list(_BATCHING):
        batching.flush()


def _forked() -> None:
    """In a new worker process the lines waiting are the parent's to write."""
    for batching in list(_BATCHING):
        batching._waiting = []


atexit.register(_write_all_waiting)
os.register_at_fork(after_in_child=_forked)


class _Stderr(BatchingHandler):
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
    made: logging.Handler = _Stderr() if stream is None else BatchingHandler(stream)
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
    global _ACCESS
    _ACCESS = installed if isinstance(installed, BatchingHandler) else None
    root.addHandler(installed)
    root.setLevel(settings.level.value)
    return installed


_MARK = "_campus_id_handler"


_ACCESS: BatchingHandler | None = None
_ACCESS_LOG = logging.getLogger(ACCESS_LOGGER)


def access(message: str, fields: dict[str, Any]) -> bool:
    """Write an access line (``message``, the ``extra`` ``fields`` with its ``request_id``) the
    short way; False, and nothing written, when it must go through ``logging`` (see the module).
    The caller has passed what a caller sent through ``scrub`` (``idp.web.access_log``): the
    rest of the message is its own words."""
    target = _ACCESS
    root = logging.root
    if (target is None or root.handlers != [target] or _ACCESS_LOG.handlers
            or _ACCESS_LOG.filters or root.filters or not _ACCESS_LOG.propagate
            or not _ACCESS_LOG.isEnabledFor(logging.INFO)):
        return False
    now = time.time()
    if isinstance(target.formatter, JsonFormatter):
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": "INFO", "logger": ACCESS_LOGGER, "message": message,
            "request_id": fields.get("request_id") or None,
        }
        for name, value in fields.items():
            if name not in body:
                body[name] = REDACTED if is_secret_field(name) else value
        line = json.dumps(body, default=str)
    else:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        extra = " ".join(f"{name}={REDACTED if is_secret_field(name) else value}"
                         for name, value in fields.items() if name != "request_id")
        line = (f"{stamp},{int(now * 1000) % 1000:03d} INFO {ACCESS_LOGGER} "
                f"[{fields.get('request_id') or '-'}] {message} {extra}")
    target.keep(line + target.terminator)
    return True
