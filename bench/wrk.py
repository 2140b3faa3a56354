"""The benchmark's light load generator: wrk (Debian's package) with a generated Lua script.

The Node load generator (load.mjs) spends more CPU per request than the cheapest endpoints do,
and on a 2-core machine it shares the cores with the server it measures: an app that does
nothing reached about 2,000 requests per second under it and about 3,700 under wrk. So every
scenario that is one fixed request, or a chain wrk can follow (refresh rotation), runs under
wrk with one thread. A whole login (a cookie to keep, a form to read, a code to send on) runs
under wrk with one thread per connection (``login``): each thread's Lua state drives its own
connection's logins as a browser would, where the Node generator cost the machine about 2.3 ms
of CPU per login (an eighth of all the machine spent on one).

``run`` and ``login`` return what ``bench.__main__.load`` returns: requests, errors,
first_error, rps (successful requests, or logins, per second), p50_ms and p99_ms (and for a
login request_p50_ms and request_p99_ms, of each of its HTTP requests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
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


def lua_table(*values: str) -> str:
    """A Lua array of the strings ``values``."""
    return "{" + ", ".join(lua_string(value) for value in values) + "}"


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
    figures = _wrk(base + path, script, 1, concurrency, seconds)
    ok = figures["requests"] - figures["errors"]
    return {"requests": ok, "errors": figures["errors"], "first_error": None,
            "rps": ok / (figures["duration_us"] / 1e6),
            "p50_ms": figures["p50_us"] / 1000, "p99_ms": figures["p99_us"] / 1000}


def first_error(base: str, path: str, method: str, headers: dict[str, str],
                form: dict[str, str] | None) -> str:
    """wrk only counts failures; one more request shows what the failure was."""
    response = requests.request(method, base + path, headers=headers, data=form, timeout=10)
    return f"{path}: {response.status_code} {response.text[:120]}"


def _wrk(url: str, script: str, threads: int, concurrency: int, seconds: float) -> dict[str, Any]:
    """wrk's figures: the JSON line its script's done() writes last."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="campus-bench-") as lua:
        lua.write(script)
        lua.flush()
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", lua.name, url],
            capture_output=True, text=True, check=False, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# A whole login per iteration, as a browser without a session makes it: GET /authorize (the login
# form: its cookie, csrf_token and rid kept) -> POST /login (302 with the code) -> POST /token.
# wrk runs one connection per thread, so each thread's Lua state is one browser after another.
# A login's latency is read from the monotonic clock (LuaJIT's FFI: wrk's Lua has no clock of
# its own); done() runs in the main state and gathers every thread's figures.
_LOGIN = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } campus_bench_timespec;
int clock_gettime(int clock, campus_bench_timespec *now);
]]
local clock = ffi.new("campus_bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local USERS = {%(users)s}
local PKCE = {%(pkce)s}
local CONCURRENCY = %(concurrency)d
local RUN = %(run)s
local AUTHORIZE = %(authorize)s
local REDIRECT_URI = %(redirect_uri)s
local BASIC = %(basic)s
local FORM = "application/x-www-form-urlencoded"

local function escape(value)
  return (value:gsub("[^%%w%%-%%._~]", function(c) return string.format("%%%%%%02X", c:byte()) end))
end

local function header(headers, name)
  for key, value in pairs(headers) do
    if key:lower() == name then return value end
  end
  return nil
end

local threads = {}
setup = function(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

latencies, logins, failures, first_error = {}, 0, 0, ""
local step, count, begun, cookie, csrf, rid, code, verifier = 1, 0, 0, "", "", "", "", ""

local function fail(what)
  failures = failures + 1
  if first_error == "" then first_error = what end
  step = 1
end

request = function()
  if step == 1 then
    count = count + 1
    local pair = PKCE[((number or 0) + count) %% #PKCE + 1]
    verifier = pair[1]
    begun = now_ms()
    local unique = RUN .. "-" .. (number or 0) .. "-" .. count
    return wrk.format("GET", AUTHORIZE .. "&state=" .. unique .. "&nonce=" .. unique
                      .. "&code_challenge=" .. pair[2], {})
  elseif step == 2 then
    local user = USERS[((number or 0) + (count - 1) * CONCURRENCY) %% #USERS + 1]
    return wrk.format("POST", "/login", {["Content-Type"] = FORM, ["Cookie"] = cookie},
      "csrf_token=" .. escape(csrf) .. "&rid=" .. escape(rid) .. "&organization=" .. escape(user[1])
      .. "&username=" .. escape(user[2]) .. "&password=" .. escape(user[3]))
  end
  return wrk.format("POST", "/token", {["Content-Type"] = FORM, ["Authorization"] = BASIC},
    "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. escape(REDIRECT_URI)
    .. "&code_verifier=" .. verifier)
end

response = function(status, headers, body)
  if step == 1 then
    local set = header(headers, "set-cookie") or ""
    csrf = body:match('name="csrf_token" value="([^"]+)"') or ""
    rid = body:match('name="rid" value="([^"]*)"') or ""
    cookie = set:match("^([^;]+)") or ""
    if status ~= 200 or csrf == "" or cookie == "" then
      return fail("authorize, the login form: " .. status)
    end
    step = 2
  elseif step == 2 then
    local location = header(headers, "location") or ""
    code = location:match("[?&]code=([^&]+)") or ""
    if status ~= 302 or code == "" then
      return fail("login post: " .. status .. " " .. location:sub(1, 80))
    end
    step = 3
  else
    if status ~= 200 then return fail("token: " .. status .. " " .. body:sub(1, 120)) end
    logins = logins + 1
    latencies[#latencies + 1] = now_ms() - begun
    step = 1
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%%c"\\\\]', function(c) return string.format("\\\\u%%04x", c:byte()) end) .. '"'
end

done = function(summary, latency, requests)
  local all, done_logins, failed, first = {}, 0, 0, ""
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("latencies")) do all[#all + 1] = value end
    done_logins = done_logins + thread:get("logins")
    failed = failed + thread:get("failures")
    if first == "" then first = thread:get("first_error") end
  end
  table.sort(all)
  local function at(p)
    if #all == 0 then return -1 end
    return all[math.min(#all, math.floor(p * #all) + 1)]
  end
  local e = summary.errors
  io.write(string.format(
    '\\n{"logins":%%d,"failures":%%d,"socket_errors":%%d,"requests":%%d,"duration_us":%%d,'
    .. '"p50_ms":%%.3f,"p99_ms":%%.3f,"request_p50_us":%%d,"request_p99_us":%%d,"first_error":%%s}\\n',
    done_logins, failed, e.connect + e.read + e.write + e.timeout, summary.requests,
    summary.duration, at(0.5), at(0.99), latency:percentile(50), latency:percentile(99),
    json_string(first)))
end
"""


def login_script(spec: dict[str, Any], run: str) -> str:
    """The login driver for ``spec`` (bench.__main__'s login scenario); ``run`` makes this
    run's nonces its own (a code's nonce may not come back)."""
    pairs = []
    for _ in range(64):  # PKCE: a verifier per login, drawn from a few made here (Lua has no SHA-256)
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        pairs.append(lua_table(verifier, challenge.decode()))
    users = ", ".join(lua_table(u["organization"], u["username"], u["password"]) for u in spec["users"])
    authorize = "/authorize?" + urlencode({
        "response_type": "code", "client_id": spec["client_id"], "redirect_uri": spec["redirect_uri"],
        "scope": spec.get("scope", "openid profile email campus"), "code_challenge_method": "S256"})
    pair = f"{spec['client_id']}:{spec['client_secret']}".encode()
    return _LOGIN % {"users": users, "pkce": ", ".join(pairs), "concurrency": spec["concurrency"],
                     "run": lua_string(run), "authorize": lua_string(authorize),
                     "redirect_uri": lua_string(spec["redirect_uri"]),
                     "basic": lua_string("Basic " + base64.b64encode(pair).decode())}


def login(spec: dict[str, Any]) -> dict[str, Any]:
    """Whole logins at ``spec["concurrency"]`` for ``spec["seconds"]``: wrk with one thread per
    connection (``_LOGIN``)."""
    concurrency = spec["concurrency"]
    figures = _wrk(spec["base"], login_script(spec, secrets.token_hex(4)), concurrency,
                   concurrency, spec["seconds"])
    errors = figures["failures"] + figures["socket_errors"]
    return {"requests": figures["logins"], "errors": errors,
            "first_error": figures["first_error"] or None,
            "rps": figures["logins"] / (figures["duration_us"] / 1e6),
            "p50_ms": figures["p50_ms"], "p99_ms": figures["p99_ms"],
            "http_requests": figures["requests"], "request_p50_ms": figures["request_p50_us"] / 1000,
            "request_p99_ms": figures["request_p99_us"] / 1000}
