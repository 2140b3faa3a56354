"""The benchmark's light load generator: wrk (Debian's package) with a generated Lua script.

The Node load generator (load.mjs) spends more CPU per request than the cheapest endpoints do,
and on a 2-core machine it shares the cores with the server it measures: an app that does
nothing reached about 2,000 requests per second under it and about 3,700 under wrk. So every
scenario that is one fixed request, or a chain wrk can follow (refresh rotation), runs under
wrk with one thread; a whole login (cookies, a form to parse) stays with the Node generator.

``measure`` returns what ``bench.__main__.load`` returns: requests, errors, first_error, rps
(successful requests per second), p50_ms and p99_ms.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from typing import Any
from urllib.parse import urlencode

import requests

# wrk calls done() once at the end; a response of status 400 or more counts as an error.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""

# Refresh rotation: every connection owns one chain; a response hands back the next token.
_REFRESH = """
local queue = {%(tokens)s}
local headers = {["Content-Type"] = "application/x-www-form-urlencoded",
                 ["Authorization"] = %(authorization)s}
local function escape(value)
  return (value:gsub("[^%%w%%-%%._~]", function(c) return string.format("%%%%%%02X", c:byte()) end))
end
request = function()
  local token = table.remove(queue) or "spent"
  return wrk.format("POST", "/token", headers, "grant_type=refresh_token&refresh_token=" .. escape(token))
end
response = function(status, _, body)
  local token = body:match('"refresh_token"%%s*:%%s*"([^"]+)"')
  if token then table.insert(queue, token) end
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal of ASCII text is a valid Lua string literal


def fixed_request_script(method: str, headers: dict[str, str], form: dict[str, str] | None) -> str:
    lines = [f"wrk.method = {lua_string(method)}"]
    for name, value in headers.items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    if form is not None:
        lines.append('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"')
        lines.append(f"wrk.body = {lua_string(urlencode(form))}")
    return "\n".join(lines) + "\n" + _DONE


def refresh_script(tokens: list[str], authorization: str) -> str:
    return _REFRESH % {"tokens": ", ".join(lua_string(t) for t in tokens),
                       "authorization": lua_string(authorization)} + _DONE


def run(base: str, path: str, script: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """One measurement: wrk with one thread (it leaves the other cycles to the server)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="campus-bench-") as lua:
        lua.write(script)
        lua.flush()
        done = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", lua.name, base + path],
            capture_output=True, text=True, check=False, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    ok = figures["requests"] - figures["errors"]
    return {"requests": ok, "errors": figures["errors"], "first_error": None,
            "rps": ok / (figures["duration_us"] / 1e6),
            "p50_ms": figures["p50_us"] / 1000, "p99_ms": figures["p99_us"] / 1000}


def first_error(base: str, path: str, method: str, headers: dict[str, str],
                form: dict[str, str] | None) -> str:
    """wrk only counts failures; one more request shows what the failure was."""
    response = requests.request(method, base + path, headers=headers, data=form, timeout=10)
    return f"{path}: {response.status_code} {response.text[:120]}"
