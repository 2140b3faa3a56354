"""Flask as the provider runs it, minus two costs every request paid for nothing.

The benchmark's profile (``python -m bench.profile discovery --profile``) showed them: Flask's
cookie sessions build a new itsdangerous signer for every request, test-serialising a value
each time, and Flask asks ``inspect`` whether every view and hook is a coroutine function at
every call. The secret key is fixed when the app is built and the views and hooks are a fixed
set, so both answers are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class OnceSignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signer built at the first request."""

    def __init__(self) -> None:
        self._signer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._signer is None:
            self._signer = super().get_signing_serializer(app)
        return self._signer


class CampusFlask(Flask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = OnceSignedCookieSessions()  # one per app: each has its key
        self._checked: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, remembered per function (views and hooks are a fixed set)."""
        if type(func) is not FunctionType:  # a bound method is a new object at every call
            return super().ensure_sync(func)
        checked = self._checked.get(func)
        if checked is None:
            checked = self._checked[func] = super().ensure_sync(func)
        return checked
