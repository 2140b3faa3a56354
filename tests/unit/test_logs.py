"""Log lines (docs/operations.md, "Logs"): one JSON object a line with the request's id, or
plain text in dev mode; an X-Request-ID is taken only when it is sane; secrets passed as
fields or printed by a library are redacted; ``[logging]`` is validated."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp import logs
from idp import request_id as request_ids
from idp.errors import ConfigError
from idp.settings.load import load_settings
from idp.settings.model import LogFormat, LoggingSettings, LogLevel
from tests.unit.test_settings import EXAMPLE, MINIMAL, SECRET, write

JSON = LoggingSettings(LogFormat.JSON, LogLevel.DEBUG)
TEXT = LoggingSettings(LogFormat.TEXT, LogLevel.DEBUG)


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own that does not reach the root logger's handlers."""
    made = logging.getLogger("tests.logs")
    made.propagate, made.level = False, logging.DEBUG
    yield made
    made.handlers.clear()
    made.propagate = True


def lines(logger: logging.Logger, settings: LoggingSettings, emit: Any) -> list[str]:
    out = io.StringIO()
    logger.addHandler(logs.handler(settings, out))
    emit()
    return out.getvalue().splitlines()


def access_lines(out: io.StringIO) -> list[dict[str, Any]]:
    """The access lines written to ``out``: with the root logger's handler replaced, a record
    that a thread left by an earlier test logs lands in ``out`` too."""
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    return [line for line in written if line["logger"] == logs.ACCESS_LOGGER]


@pytest.mark.parametrize("offered", ["abc-123", "7f3c2a9e-1b2c-4d5e-8f90-0123456789ab",
                                     "req.42:eu-west@lb+1=", "x" * 64])
def test_a_sane_request_id_is_taken_as_it_is(offered: str) -> None:
    assert request_ids.sane(offered) == offered
    assert request_ids.from_header(offered) == offered


@pytest.mark.parametrize("offered", [
    None, "", "abc\r\nforged: line", "abc\nINFO fake", "a b", "x" * 65, "a" * 10240,
    '"quoted"', "-leading-dash", "тест", "abc\x00", "<script>",
])
def test_anything_else_is_replaced_by_a_new_id(offered: str | None) -> None:
    assert request_ids.sane(offered) is None
    made = request_ids.from_header(offered)
    assert len(made) == 32 and int(made, 16) >= 0
    assert made != request_ids.from_header(offered)  # new each time


def test_a_json_line_has_the_fields_the_request_id_and_the_extra_fields(logger: logging.Logger) -> None:
    def emit() -> None:
        with request_ids.bound("abc-123"):
            logger.info("login of %s\nsecond line", "ivan", extra={"organization": "tpu"})
        logger.warning("outside")

    first, second = lines(logger, JSON, emit)
    record = json.loads(first)
    assert record.pop("time").endswith("Z") and "T" in first
    assert record == {"level": "INFO", "logger": "tests.logs", "message": "login of ivan\nsecond line",
                      "request_id": "abc-123", "organization": "tpu"}
    assert json.loads(second)["request_id"] is None


def test_an_exception_is_one_field_of_one_line(logger: logging.Logger) -> None:
    def emit() -> None:
        try:
            raise ValueError("broken\nreally")
        except ValueError:
            logger.exception("it failed")

    (line,) = lines(logger, JSON, emit)
    record = json.loads(line)
    assert record["message"] == "it failed"
    assert record["exception"].startswith("Traceback") and "ValueError: broken\nreally" in record["exception"]


def test_a_request_id_given_as_a_field_wins(logger: logging.Logger) -> None:
    """The access log line is written after the request, from the id kept in the environ."""
    def emit() -> None:
        with request_ids.bound("job-1"):
            logger.info("access", extra={"request_id": "abc-123"})

    (line,) = lines(logger, JSON, emit)
    assert json.loads(line)["request_id"] == "abc-123"


def test_secret_fields_and_secrets_in_messages_are_redacted(logger: logging.Logger) -> None:
    token_response = {"token_type": "Bearer", "access_token": "AT-SECRET-1",
                      "refresh_token": "RT-SECRET-2", "id_token": "eyJ.IDT-SECRET-3.sig"}

    def emit() -> None:
        logger.info("login", extra={"password": "Passw0rd-1", "client_secret": "CS-SECRET-4",
                                    "refresh_token": "RT-SECRET-5", "username": "ivan"})
        logger.debug("Issue token %s to %r", token_response, "rp1")  # as Authlib's debug line
        logger.info("GET /cb?code=CODE-SECRET-6&state=s Authorization: Bearer AT-SECRET-7xyz")

    for settings in (JSON, TEXT):
        text = "\n".join(lines(logger, settings, emit))
        logger.handlers.clear()
        for secret in ("Passw0rd-1", "SECRET"):
            assert secret not in text
        assert "ivan" in text and "token_type" in text and "state=s" in text
    fields = json.loads(lines(logger, JSON, emit)[0])
    assert fields["password"] == fields["client_secret"] == "[redacted]"
    assert fields["username"] == "ivan"


def test_a_secret_in_an_exception_is_redacted(logger: logging.Logger) -> None:
    def emit() -> None:
        try:
            raise RuntimeError("POST /token failed: {'refresh_token': 'RT-SECRET-8'}")
        except RuntimeError:
            logger.exception("refresh")

    for settings in (JSON, TEXT):
        text = "\n".join(lines(logger, settings, emit))
        logger.handlers.clear()
        assert "RuntimeError" in text and "refresh_token" in text and "RT-SECRET-8" not in text


def test_a_text_line_has_the_request_id(logger: logging.Logger) -> None:
    def emit() -> None:
        with request_ids.bound("abc-123"):
            logger.info("signed in", extra={"organization": "tpu"})
        logger.info("between requests")

    first, second = lines(logger, TEXT, emit)
    assert first.endswith(" INFO tests.logs [abc-123] signed in organization=tpu")
    assert second.endswith(" INFO tests.logs [-] between requests")


def test_configure_installs_one_handler_at_the_level_and_leaves_foreign_logging_alone() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        # pytest's own capture handlers are there: someone else set logging up
        assert logs.configure(JSON, io.StringIO()) is None and root.handlers == saved_handlers
        root.handlers = []
        out = io.StringIO()
        logs.configure(LoggingSettings(LogFormat.JSON, LogLevel.INFO), io.StringIO())
        logs.configure(LoggingSettings(LogFormat.JSON, LogLevel.WARNING), out)  # replaces
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        logging.getLogger("tests.configured").info("dropped")
        logging.getLogger("tests.configured").warning("kept")
        assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["kept"]
    finally:
        root.handlers, root.level = saved_handlers, saved_level


def test_logging_settings_default_by_mode_and_are_validated(tmp_path: Path) -> None:
    production = load_settings(write(tmp_path, MINIMAL), {})
    assert production.logging == LoggingSettings(LogFormat.JSON, LogLevel.INFO)
    dev = load_settings(write(tmp_path, MINIMAL.replace("[server]\n", "[server]\ndev_mode = true\n")), {})
    assert dev.logging.format is LogFormat.TEXT
    overridden = load_settings(write(tmp_path, MINIMAL + '[logging]\nformat = "text"\n'),
                               {"IDP__LOGGING__LEVEL": "debug"})
    assert overridden.logging == LoggingSettings(LogFormat.TEXT, LogLevel.DEBUG)
    path = write(tmp_path, MINIMAL + '[logging]\nformat = "xml"\nlevel = "loud"\ncolour = 1\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    problems = "\n".join(raised.value.problems)
    assert "logging.format: must be one of 'json', 'text', not 'xml'" in problems
    assert "logging.level: must be one of 'debug', 'info', 'warning', 'error', not 'loud'" in problems
    assert "logging.colour" in problems


def test_the_example_file_documents_the_logging_settings() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "[logging]" in text and '# format = "json"' in text and 'level = "info"' in text
    assert load_settings(EXAMPLE, SECRET).logging.level is LogLevel.INFO


@pytest.fixture
def installed() -> Iterator[None]:
    """The process's logging as ``idp serve`` sets it up (this module's handler alone)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = []
    yield
    root.handlers, root.level = saved_handlers, saved_level
    logs._ACCESS = None


ACCESS_ENVIRON = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "PATH_INFO": "/token",
                  "campus_id.client_id": "svc-lib", "campus_id.request_id": "req-9"}


@pytest.mark.parametrize("settings", [JSON, TEXT], ids=["json", "text"])
def test_an_access_line_the_short_way_is_the_line_logging_writes(installed: None,
                                                                 settings: LoggingSettings) -> None:
    from idp.web.access_log import ACCESS_LOG, access_fields, log_access

    short, through_logging = io.StringIO(), io.StringIO()
    handler = logs.configure(settings, short, force=True)
    assert handler is not None
    log_access(ACCESS_ENVIRON, "200", 512, 3)
    handler.flush()
    ours = logging.StreamHandler(through_logging)  # the formatter and filters, by logging
    ours.setFormatter(logs.formatter(settings))
    for made in logs.handler(settings).filters:
        ours.addFilter(made)
    fields = access_fields(ACCESS_ENVIRON, "200", 512, 3)
    record = ACCESS_LOG.makeRecord(ACCESS_LOG.name, logging.INFO, __file__, 1,
                                   '%s "%s %s" %s %s %dms client=%s',
                                   ("10.0.0.7", "POST", "/token", "200", 512, 3, "svc-lib"),
                                   None, extra=fields)
    ours.handle(record)
    [line], [expected] = short.getvalue().splitlines(), through_logging.getvalue().splitlines()
    if settings is JSON:
        line_fields, expected_fields = json.loads(line), json.loads(expected)
        assert line_fields.pop("time")[:16] == expected_fields.pop("time")[:16]
        assert line_fields == expected_fields
    else:
        assert line[:16] == expected[:16] and line[23:] == expected[23:]  # up to the milliseconds


def test_access_lines_wait_for_a_batch_and_never_pass_a_later_record(installed: None) -> None:
    from idp.web.access_log import log_access

    out = io.StringIO()
    logs.configure(JSON, out, force=True)
    for n in range(3):
        log_access({**ACCESS_ENVIRON, "PATH_INFO": f"/r{n}"}, "200", 1, 1)
    assert out.getvalue() == ""  # waiting for the batch
    logging.getLogger("tests.logs.after").warning("after the requests")
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("path") or line["message"] for line in written] == [
        "/r0", "/r1", "/r2", "after the requests"]
    for _ in range(logs.BATCH_LINES):
        log_access(ACCESS_ENVIRON, "200", 1, 1)
    assert len(out.getvalue().splitlines()) == 4 + logs.BATCH_LINES  # a full batch is written


def test_access_lines_are_written_within_moments_when_nothing_else_comes(installed: None) -> None:
    from idp.web.access_log import log_access

    out = io.StringIO()
    logs.configure(JSON, out, force=True)
    log_access(ACCESS_ENVIRON, "200", 1, 1)
    deadline = time.monotonic() + 5
    while not access_lines(out):
        assert time.monotonic() < deadline, "the access line was never written"
        time.sleep(0.02)
    assert [line["client"] for line in access_lines(out)] == ["svc-lib"]


def test_what_a_caller_sent_in_an_access_line_is_redacted(installed: None) -> None:
    from idp.web.access_log import log_access

    out = io.StringIO()
    handler = logs.configure(JSON, out, force=True)
    assert handler is not None
    log_access({**ACCESS_ENVIRON, "PATH_INFO": "/cb/code=SPLxyz", "campus_id.client_id":
                "access_token=SPLabc"}, "404", 1, 1)
    handler.flush()
    assert "SPL" not in out.getvalue()
    assert [line["path"] for line in access_lines(out)] == ["/cb/code=[redacted]"]
