"""Typed reading of one TOML table that records every problem instead of stopping at the first.

Each problem names its full dotted key, so an operator can fix them all in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)
_MISSING: Any = object()


class TableReader:
    """Reads keys of one table; ``done()`` reports the keys nobody asked for."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: list[str]) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)}: {message}")

    def _get(self, name: str, default: Any) -> Any:
        self._seen.add(name)
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            self.problem(name, "is required")
        return default

    def string(self, name: str, default: Any = _MISSING, *, secret: bool = False) -> str:
        if secret:
            self._seen.add(f"{name}_file")
            file_name = self.data.get(f"{name}_file")
            if file_name and name not in self.data:
                return self._read_secret_file(name, str(file_name))
        value = self._get(name, default)
        if value is _MISSING or value is None:
            return ""
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {type(value).__name__}")
            return ""
        return value

    def _read_secret_file(self, name: str, file_name: str) -> str:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.problem(f"{name}_file", f"cannot be read: {exc.strerror}")
            return ""

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            self.problem(name, "must be true or false")
            return default
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, "must be a number")
            return default
        if not minimum <= value <= maximum:
            self.problem(name, f"must be between {minimum:g} and {maximum:g}")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.number(name, default, minimum=minimum, maximum=maximum)
        if value != int(value):
            self.problem(name, "must be a whole number")
        return int(value)

    def choice(self, name: str, enum: type[E], default: Any = _MISSING) -> E:
        value = self._get(name, default)
        if value is _MISSING:  # already reported as required
            return next(iter(enum))
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in enum)
            self.problem(name, f"must be one of {allowed}, not {value!r}")
            return next(iter(enum))

    def str_list(self, name: str, default: Any = _MISSING, *, non_empty: bool = False) -> tuple[str, ...]:
        value = self._get(name, default)
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(name, "must be a list of strings")
            return ()
        if non_empty and not value:
            self.problem(name, "must not be empty")
        return tuple(value)

    def table(self, name: str, *, required: bool = False) -> Mapping[str, Any]:
        value = self._get(name, _MISSING if required else {})
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping):
            self.problem(name, "must be a table")
            return {}
        return value

    def sub(self, name: str, *, required: bool = False) -> TableReader:
        return TableReader(self.table(name, required=required), self.key(name), self.problems)

    def str_map(self, name: str) -> dict[str, str]:
        table = self.table(name)
        result: dict[str, str] = {}
        for k, v in table.items():
            if not isinstance(v, str):
                self.problems.append(f"{self.key(name)}.{k}: must be a string")
            else:
                result[str(k)] = v
        return result

    def done(self) -> None:
        for name in self.data:
            if name not in self._seen:
                self.problem(name, "is not a known setting")
