"""The demo with access on, as `make demo` runs it: a student's login is delivered by the real
`idp worker` to the demo's webhook receiver, which checked its signature; "My Campus ID" lists
the library card; and stopping the stack ends the worker, the provider and the receiver."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import requests

from demo.slapd import free_port
from demo.stack import ProviderStack
from demo.webhook_receiver import Received

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WAIT_S = 60.0


def log_in(issuer: str, username: str, password: str) -> requests.Session:
    web = requests.Session()
    web.trust_env = False
    form = web.get(f"{issuer}/login?next=account", timeout=10)
    found = CSRF.search(form.text)
    assert found, form.text[:300]
    done = web.post(f"{issuer}/login", allow_redirects=False, timeout=10, data={
        "csrf_token": found.group(1), "next": "account", "username": username,
        "password": password})
    assert done.status_code == 302 and done.headers["Location"].endswith("/account"), done.text[:300]
    return web


def wait_for_delivery(stack: ProviderStack, resource: str) -> Received:
    assert stack.receiver is not None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for message in stack.receiver.received:
            if message.resource == resource:
                return message
        time.sleep(0.1)
    worker_log = (stack.workdir / "worker.log").read_text(errors="replace")
    raise AssertionError(f"no {resource} delivery reached the receiver; worker log:\n{worker_log[-2000:]}")


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_a_login_is_delivered_to_the_demo_receiver(tmp_path: Path) -> None:
    stack = ProviderStack(tmp_path, port=free_port(), access=True, webhook_port=free_port())
    with stack:
        assert stack.worker is not None and stack.worker.poll() is None
        worker, receiver_port = stack.worker, stack.webhook_port
        config = stack.config_path.read_text(encoding="utf-8")
        assert "[connectors.demo_webhook]" in config and "whsec_" not in config

        web = log_in(stack.issuer, "demo@tsu.ru", "demo")
        message = wait_for_delivery(stack, "library")
        assert (message.type, message.state) == ("access.granted", "active")
        assert message.body["person"]["organizations"] == ["tsu"]
        assert "student@tsu.ru" in message.body["person"]["affiliations"]
        assert all(m.resource != "gym" for m in stack.receiver.received)  # no connector: not sent
        logged = (tmp_path / "webhooks.jsonl").read_text(encoding="utf-8").splitlines()
        assert json.loads(logged[0])["webhook_id"] == message.webhook_id

        explained = json.loads(stack.idp("access", "explain", "demo@tsu.ru", "--json"))
        assert explained["person"]["campus_id"] == message.campus_id
        assert {g["resource"] for g in explained["grants"]} == {"library", "gym"}
        page = web.get(f"{stack.issuer}/account", headers={"Accept-Language": "en"}, timeout=10)
        assert "Unified library card" in page.text and "Sports complex pass" in page.text
    assert worker.poll() is not None
    assert stack.worker is None and stack.process is None and stack.receiver is None
    assert refuses_connections(receiver_port)
