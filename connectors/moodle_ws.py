"""One call of a Moodle web service function over REST, and what its answer means for a retry.

Moodle's REST server (``webservice/rest/server.php``, Moodle 4.1) reads a form-encoded body:
``wstoken``, ``wsfunction``, ``moodlewsrestformat=json`` and the function's arguments, arrays
in PHP's bracket syntax (``users[0][username]=...``). It answers errors with HTTP 200 and
``{"exception", "errorcode", "message"}`` (``debuginfo`` too when the site debugs), so the body
is judged, not only the status. An answer that says the token, the service or the arguments
are wrong, a 4xx, or a redirect (the address is not the site's) ``NeverWorks``; a site in
maintenance, a database fault, a 5xx, a timeout or a refused connection is ``RetryLater``.
The token never appears in a message.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from connectors import deadline_http
from connectors.base import NeverWorks, RetryLater

ENDPOINT = "/webservice/rest/server.php"
KEEP_BYTES = 256 * 1024  # a user record is about 1 KB; one lookup returns at most one
KEPT_CHARS = 300
# Moodle error codes that pass by themselves: maintenance mode, a database that failed.
PASSING = frozenset({"sitemaintenance", "dmlreadexception", "dmlwriteexception",
                     "dmltransactionexception", "dbconnectionfailed"})
HINTS = {
    "invalidtoken": "the connector's token is wrong or was deleted in Moodle",
    "accessexception": "add the function to the token's external service and the "
                       "capabilities to its user (docs/connectors.md)",
}

Scalar = str | int | bool
Value = Scalar | Mapping[str, "Value"] | Sequence["Value"]


def form_pairs(name: str, value: Value) -> list[tuple[str, str]]:
    """``value`` flattened as PHP reads a form: ``name[key]`` for a mapping, ``name[i]`` for
    a list, booleans as ``1``/``0`` (what ``PARAM_BOOL`` and ``PARAM_INT`` accept)."""
    if isinstance(value, bool):
        return [(name, "1" if value else "0")]
    if isinstance(value, int | str):
        return [(name, str(value))]
    if isinstance(value, Mapping):
        items: list[tuple[str, Value]] = [(str(k), v) for k, v in value.items()]
    else:
        items = [(str(i), v) for i, v in enumerate(value)]
    return [pair for key, item in items for pair in form_pairs(f"{name}[{key}]", item)]


def form_body(token: str, function: str, arguments: Mapping[str, Value]) -> bytes:
    """The request body: the reserved names first, then the function's arguments."""
    pairs = [("wstoken", token), ("wsfunction", function), ("moodlewsrestformat", "json")]
    for name, value in arguments.items():
        pairs.extend(form_pairs(name, value))
    # "[" and "]" are kept readable: PHP decodes both forms alike.
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs).encode()


def call(url: str, token: str, function: str, arguments: Mapping[str, Value],
         timeout_s: float) -> Any:
    """Call ``function`` at ``url`` (the REST endpoint) within ``timeout_s``; its decoded
    answer (``None`` for a function without a return value), or the exception it means."""
    body = form_body(token, function, arguments)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "User-Agent": "campus-id"}
    try:
        answer = deadline_http.request("POST", url, body=body, headers=headers,
                                       timeout_s=timeout_s, keep_bytes=KEEP_BYTES + 1)
    except TimeoutError:
        raise RetryLater(f"Moodle {function}: no answer in time") from None
    except ConnectionRefusedError:
        raise RetryLater(f"Moodle {function}: connection refused") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryLater(f"Moodle {function}: {type(error).__name__}: {error}"[:KEPT_CHARS]) from None
    except ValueError as error:
        raise NeverWorks(f"Moodle {function}: {error}"[:KEPT_CHARS]) from None
    return judge(function, answer)


def judge(function: str, answer: deadline_http.Answer) -> Any:
    """The decoded answer of a 200 that is no Moodle exception; otherwise what it means."""
    text = " ".join(answer.body_start[:KEPT_CHARS].decode("utf-8", "replace").split())
    if answer.status != 200:
        message = f"Moodle {function}: HTTP {answer.status}" + (f": {text}" if text else "")
        if answer.status == 403 and not text:
            message += " (web services or the REST protocol are not enabled in Moodle)"
        if 300 <= answer.status < 400:  # url is not the site's wwwroot (http for https, a path)
            message = (f"Moodle {function}: HTTP {answer.status} to "
                       f"{answer.headers.get('location', '?')}: check the connector's url")
        if 300 <= answer.status < 500 and answer.status not in (408, 429):
            raise NeverWorks(message[:KEPT_CHARS])
        raise RetryLater(message[:KEPT_CHARS])
    if len(answer.body_start) > KEEP_BYTES:
        raise NeverWorks(f"Moodle {function}: the answer is longer than {KEEP_BYTES} bytes")
    try:
        decoded = json.loads(answer.body_start)
    except ValueError:
        # Not JSON: a proxy's page, or PHP failing before Moodle could answer.
        raise RetryLater(f"Moodle {function}: not a JSON answer: {text}"[:KEPT_CHARS]) from None
    if isinstance(decoded, dict) and "exception" in decoded:
        raise exception_of(function, decoded)
    return decoded


def exception_of(function: str, error: Mapping[str, Any]) -> RetryLater | NeverWorks:
    """Moodle's exception as the connector raises it: ``errorcode: message (debuginfo)``."""
    code = str(error.get("errorcode") or error.get("exception"))
    message = f"Moodle {function}: {code}: {error.get('message', '')}"
    if code in HINTS:
        message += f"; {HINTS[code]}"
    if error.get("debuginfo"):
        message += f" ({' '.join(str(error['debuginfo']).split())})"
    message = message[:KEPT_CHARS]
    return RetryLater(message) if code in PASSING else NeverWorks(message)


def warnings_of(answer: Any) -> list[Mapping[str, Any]]:
    """The ``warnings`` array of an answer that has one (``[]`` otherwise)."""
    if isinstance(answer, dict) and isinstance(answer.get("warnings"), list):
        return [w for w in answer["warnings"] if isinstance(w, dict)]
    return []
