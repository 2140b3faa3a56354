"""Under granian (``idp serve``'s default engine) a request's WSGI environ holds what the
request brought, not the server's process environment: granian starts every environ from a copy
of it, so a secret given by environment variable, or a variable named like a header, would
otherwise reach the app with every request (idp.web.serve_granian.WithoutProcessEnvironment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from demo.slapd import free_port
from demo.stack import wait_until_answering

SERVER = """
import json, sys
from idp.web.serve_granian import run

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({k: v for k, v in environ.items() if isinstance(v, str)}).encode()]

run(app, "127.0.0.1", int(sys.argv[1]), workers=1, threads=1, tls=None, after_fork=lambda: None)
"""
SECRET = "not-for-requests-0123456789abcdef"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("granian-environ") / "server.log"
    env = {**os.environ, "IDP__SERVER__SECRET_KEY": SECRET, "HTTP_PROXY": "http://proxy.invalid:3128",
           "NO_PROXY": "*"}
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, server, timeout_s=30, why=lambda: log.read_text(errors="replace"))
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def environ_of(url: str, **headers: str) -> dict[str, str]:
    http = requests.Session()
    http.trust_env = False  # the test's own proxy settings stay out of it
    with http:
        answer = http.get(url + "/probe?x=1", headers=headers, timeout=10)
    assert answer.status_code == 200
    environ: dict[str, str] = answer.json()
    return environ


def test_the_process_environment_stays_out_of_a_requests_environ(base: str) -> None:
    environ = environ_of(base, **{"X-Probe": "yes"})
    assert SECRET not in environ.values()
    assert "IDP__SERVER__SECRET_KEY" not in environ
    assert "HTTP_PROXY" not in environ  # no such header was sent
    assert "PATH" not in environ and "HOME" not in environ
    # What the request brought is all there.
    assert environ["HTTP_X_PROBE"] == "yes"
    assert environ["PATH_INFO"] == "/probe"
    assert environ["QUERY_STRING"] == "x=1"
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_a_header_named_like_a_process_variable_is_kept_when_the_client_sent_it(base: str) -> None:
    assert environ_of(base, Proxy="sent-by-the-client")["HTTP_PROXY"] == "sent-by-the-client"
