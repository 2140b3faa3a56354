"""The demo with access on, as `make demo` runs it: a student's login is delivered by the real
`idp worker` to the demo's webhook receiver (which checked its signature), to the demo library
(a real ``scim2-server``: the User with the campus card number as ``employeeNumber``) and to the
stand-in Moodle (the user enrolled in the joint-programme course); "My Campus ID" shows the card
and a gym pass that ``campus-pass verify`` accepts from its cached files, as a turnstile would;
and stopping the stack ends every process and server it started."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from demo.access import COURSE, GYM_TERMS, MOODLE_COHORTS, MOODLE_COURSE_ID
from demo.people import LIBRARY_TERMS
from demo.slapd import free_ports
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


def wait_for(what: str, stack: ProviderStack, found: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.1)
    worker_log = (stack.workdir / "worker.log").read_text(errors="replace")
    raise AssertionError(f"{what}; worker log:\n{worker_log[-2000:]}")


def campus_pass(*args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("campus-pass")
    return subprocess.run([str(command), *args], capture_output=True, text=True, timeout=30,
                          check=False)


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_a_login_is_delivered_to_the_demo_systems(tmp_path: Path) -> None:
    provider, webhook, scim, moodle = free_ports(4)
    stack = ProviderStack(tmp_path, port=provider, access=True, webhook_port=webhook,
                          scim_port=scim, moodle_port=moodle)
    with stack:
        assert stack.worker is not None and stack.worker.poll() is None
        assert stack.library is not None and stack.library.process is not None
        assert stack.moodle is not None and stack.receiver is not None
        worker, library = stack.worker, stack.library.process
        ports = (stack.webhook_port, stack.scim_port, stack.moodle_port)
        config = stack.config_path.read_text(encoding="utf-8")
        for table in ("demo_webhook", "demo_library", "demo_moodle"):
            assert f"[connectors.{table}]" in config
        assert "whsec_" not in config and "token =" not in config
        assert (tmp_path / "scim.token").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "moodle.token").stat().st_mode & 0o777 == 0o600

        web = log_in(stack.issuer, "demo@tsu.ru", "demo")
        message = wait_for_delivery(stack, "library")
        assert (message.type, message.state) == ("access.granted", "active")
        assert message.body["person"]["organizations"] == ["tsu"]
        assert "student@tsu.ru" in message.body["person"]["affiliations"]
        campus_id = message.campus_id
        assert all(m.resource != "gym" for m in stack.receiver.received)  # no connector: not sent
        logged = (tmp_path / "webhooks.jsonl").read_text(encoding="utf-8").splitlines()
        assert message.webhook_id in [json.loads(line)["webhook_id"] for line in logged]

        explained = json.loads(stack.idp("access", "explain", "demo@tsu.ru", "--json"))
        assert explained["person"]["campus_id"] == campus_id
        assert {g["resource"] for g in explained["grants"]} == {"library", "gym", COURSE}
        page = web.get(f"{stack.issuer}/account", headers={"Accept-Language": "en"}, timeout=10)
        assert "Unified library card" in page.text and "Sports complex pass" in page.text
        card = re.search(r'data-card="(\d+)"', page.text)
        assert card, "no campus card on /account"

        [user] = wait_for("the SCIM server has no User for the student", stack,
                          lambda: stack.library.users(where=f'externalId eq "{campus_id}"'))
        enterprise = user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
        assert enterprise["employeeNumber"] == card.group(1)
        assert user["active"] is True

        moodle = stack.moodle
        wait_for("the stand-in Moodle did not enrol the student", stack,
                 lambda: moodle.enrolment(campus_id, MOODLE_COURSE_ID))
        listing = requests.Session()
        listing.trust_env = False
        [shown] = [u for u in listing.get(f"{moodle.url}/demo/users", timeout=5).json()["users"]
                   if u["username"] == campus_id]
        assert shown["auth"] == "oauth2" and shown["email"] == "demo@tsu.ru"
        assert shown["cohorts"] == [MOODLE_COHORTS["tsu"]]
        assert shown["enrolments"] == [{"course": MOODLE_COURSE_ID, "roles": [5],
                                        "status": "active"}]

        passes = web.get(f"{stack.issuer}/account/pass", timeout=10).json()["passes"]
        [gym] = [p for p in passes if p["resource"] == "gym"]
        cache = tmp_path / "turnstile"
        refreshed = campus_pass("refresh", "--issuer", stack.issuer, "--cache", str(cache))
        assert refreshed.returncode == 0, refreshed.stderr
        verified = campus_pass("verify", gym["text"], "--cache", str(cache),
                               "--facility", GYM_TERMS)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.startswith("VALID:") and campus_id in verified.stdout
        elsewhere = campus_pass("verify", gym["text"], "--cache", str(cache),
                                "--facility", LIBRARY_TERMS)
        assert elsewhere.returncode == 14, elsewhere.stdout + elsewhere.stderr
    assert worker.poll() is not None and library.poll() is not None
    assert stack.worker is None and stack.process is None and stack.receiver is None
    assert stack.library is None and stack.moodle is None
    assert all(refuses_connections(port) for port in ports)
    a_restart_finds_what_was_delivered(stack, campus_id)


def a_restart_finds_what_was_delivered(stack: ProviderStack, campus_id: str) -> None:
    """`make demo` again on the same database: the in-memory SCIM server gets its Users back
    (reconciled at start), the stand-in Moodle its users (kept in a file)."""
    with stack:
        assert stack.library is not None and stack.moodle is not None
        library, moodle = stack.library, stack.moodle
        [user] = wait_for("the restarted SCIM server did not get the User back", stack,
                          lambda: library.users(where=f'externalId eq "{campus_id}"'))
        assert user["active"] is True
        assert moodle.enrolment(campus_id, MOODLE_COURSE_ID) is not None
