"""``[logging]``: the format of log lines (JSON, or plain text in dev mode by default) and the
level, validated like every other section."""

from __future__ import annotations

from idp.settings.model import LogFormat, LoggingSettings, LogLevel
from idp.settings.reader import TableReader


def parse_logging(r: TableReader, dev_mode: bool) -> LoggingSettings:
    default_format = LogFormat.TEXT if dev_mode else LogFormat.JSON
    log_format = r.choice("format", LogFormat, default_format.value)
    name = r.string("level", LogLevel.INFO.value)
    try:
        level = LogLevel(name.upper())
    except ValueError:  # (a value that is no string is reported by string())
        allowed = ", ".join(repr(m.value.lower()) for m in LogLevel)
        if isinstance(r.data.get("level"), str):
            r.problem("level", f"must be one of {allowed}, not {name!r}")
        level = LogLevel.INFO
    r.done()
    return LoggingSettings(format=log_format, level=level)
