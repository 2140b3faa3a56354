"""Flask as the provider runs it, minus costs every request paid for nothing.

The benchmark's profile (``python -m bench.profile discovery --profile``) showed them: Flask's
cookie sessions build a new itsdangerous signer for every request, test-serialising a value
each time, and Flask asks ``inspect`` whether every view and hook is a coroutine function at
every call. The secret key is fixed when the app is built and the views and hooks are a fixed
set, so both answers are kept. ``bench.profile login`` showed the rest of the cookie's cost:
the signing key derived again for every cookie, and every value walked through every tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import FunctionType
from typing import Any

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface, session_json_serializer
from itsdangerous import TimestampSigner, URLSafeTimedSerializer


class KeptKeySigner(TimestampSigner):
    """itsdangerous' timestamp signer with each derived key computed once: it derived the
    key (an HMAC over the salt) again for every cookie signed or checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived


class PlainFirstSerializer:
    """Flask's tagged JSON for session cookies, byte for byte: a session of plain JSON values
    (str, int, float, bool, None, lists and dicts of them, which is all the provider keeps: a
    waiting request's time is a float) is
    dumped without walking it through every tag, which leaves such a value as it is anyway;
    anything else goes through the tags. Loading untags each object as the JSON decoder
    makes it, which is what Flask's walk over the decoded value does."""

    def __init__(self, tagged: TaggedJSONSerializer) -> None:
        self.tagged = tagged
        self.tag_keys = frozenset(tagged.tags)

    def dumps(self, value: Any) -> str:
        if not self._plain(value):
            return self.tagged.dumps(value)
        return _PLAIN_JSON.encode(value)

    def loads(self, value: str | bytes) -> Any:
        return json.loads(value, object_hook=self.tagged.untag)

    def _plain(self, value: Any) -> bool:
        kind = type(value)
        if kind is dict:
            if len(value) == 1 and next(iter(value)) in self.tag_keys:
                return False  # a dict Flask would tag, to tell it from a tagged value
            return all(type(k) is str and (type(v) in _PLAIN_LEAVES or self._plain(v))
                       for k, v in value.items())
        if kind is list:
            return all(type(v) in _PLAIN_LEAVES or self._plain(v) for v in value)
        return kind in _PLAIN_LEAVES


_PLAIN_LEAVES = frozenset({str, int, float, bool, type(None)})
# What Flask's tagged serializer asks of the app's JSON provider (compact, ASCII, sorted keys),
# without finding the app through its context for every cookie.
_PLAIN_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, sort_keys=True)


class OnceSignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signer built at the first request, its keys
    derived once, and plain session values serialised without the tag walk: the cookie is
    the same, byte for byte."""

    serializer = PlainFirstSerializer(session_json_serializer)  # type: ignore[assignment]

    def __init__(self) -> None:
        self._signer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._signer is None:
            signer = super().get_signing_serializer(app)
            if signer is not None:
                signer.signer = KeptKeySigner
                kept = signer.make_signer()
                # Reading a cookie asks for the signer by the serializer's own salt, writing
                # one by None: both get the kept signer (a new one derived its key again).
                own = (None, signer.salt)
                signer.make_signer = lambda salt=None: kept if salt in own else (  # type: ignore[method-assign]
                    URLSafeTimedSerializer.make_signer(signer, salt))
            self._signer = signer
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
