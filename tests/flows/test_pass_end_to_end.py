"""The sports and culture pass end to end (docs/connectors.md, "The sports and culture pass"):
a person signs in to My Campus ID, which shows one pass per sports or culture grant (the page's
own script renews it); the pass is rendered as a PNG QR code (version <= 15 at level M),
decoded by a real decoder (zxing-cpp), and verified by the `campus-pass` command as a separate
process from the caches it refreshed over HTTP, with the provider stopped. When the grant ends
the pass is revoked: still valid on the old cache, refused after the next refresh."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from campus_pass import cose
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from demo.slapd import SlapdServer, free_port
from idp.app import create_app
from idp.provisioning.grants import recompute
from idp.settings.model import Settings
from idp.storage.base import utcnow
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, GrantState
from tests.flows.conftest import make_settings
from tests.flows.test_account import open_account
from tests.support.qr_scan import scan_qr

GYM = "https://id.campus.test/entitlement/gym"
CAMPUS_PASS = str(Path(sys.executable).parent / "campus-pass")
NAME = "Демидов Алексей Викторович"  # tpu demo's displayName


def pass_tables(gym_granted: bool = True) -> dict[str, Any]:
    granted = ["library", "theatre"] + (["gym"] if gym_granted else [])
    return {"access": {
        "resources": {
            "library": {"name": "Library", "kind": "library", "entitlement": "urn:x:library"},
            "gym": {"name": "Sports centre", "name_ru": "Спортивный центр", "kind": "sports",
                    "entitlement": GYM},
            "theatre": {"name": "Student theatre", "kind": "culture"},  # no entitlement: its id
        },
        "policies": {"students": {"resources": granted, "affiliations": ["student"]}},
    }}


@dataclass
class Served:
    app: Flask
    issuer: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(5)


@pytest.fixture
def served(settings: Settings, database_url: str,
           directories: dict[str, SlapdServer]) -> Iterator[Served]:
    del settings  # migrated the database
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(database_url, directories, server={"issuer": issuer},
                                   **pass_tables()))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    running = Served(app, issuer, server, thread)
    yield running
    running.stop()
    app.extensions["campus_id"].engine.dispose()


def campus_pass(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAMPUS_PASS, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def fresh_passes(browser: FlaskClient) -> dict[str, dict[str, str]]:
    answer = browser.get("/account/pass")
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    return {p["resource"]: p for p in answer.json["passes"]}


def scanned(text: str, folder: Path) -> str:
    """The pass as a turnstile's scanner reads it off a PNG of its QR code."""
    code = segno.make_qr(text, error="m", boost_error=False)
    assert code.version <= 15, code.version
    image = folder / "pass.png"
    code.save(image, scale=4, border=4)
    found = scan_qr(image)
    assert len(found) == 1 and found[0][1] == "M"
    return found[0][0]


def test_a_pass_on_my_campus_id_is_scanned_and_verified_offline(served: Served, tmp_path: Path) -> None:
    browser = served.app.test_client()
    page = open_account(browser, "tpu", "demo")
    html = page.get_data(as_text=True)
    assert 'id="passes"' in html and 'data-resource="gym"' in html and 'data-resource="theatre"' in html
    assert 'data-resource="library"' not in html.split('id="passes"')[1]  # no pass for a library
    assert '<script src="/static/pass.js"></script>' in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    script = browser.get("/static/pass.js")
    assert script.status_code == 200 and b"/account/pass" in script.get_data()
    script.close()
    passes = fresh_passes(browser)
    assert sorted(passes) == ["gym", "theatre"]
    assert passes["theatre"]["entitlement"] == "theatre"
    assert passes["gym"]["qr"].startswith("data:image/svg+xml")

    cache = tmp_path / "cache"
    refreshed = campus_pass("refresh", "--issuer", served.issuer, "--cache", str(cache))
    assert refreshed.returncode == 0, refreshed.stderr
    served.stop()  # from here on the turnstile is offline: nothing answers at the issuer

    gym = scanned(passes["gym"]["text"], tmp_path)
    assert gym == passes["gym"]["text"]
    valid = campus_pass("verify", gym, "--cache", str(cache), "--facility", GYM)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.startswith(f"VALID: {NAME} (campus id ")
    elsewhere = campus_pass("verify", gym, "--jwks", str(cache / "jwks.json"),
                            "--revoked", str(cache / "revoked.json"), "--facility", "theatre")
    assert elsewhere.returncode == 14 and elsewhere.stdout.startswith("NOT FOR THIS FACILITY")
    theatre = scanned(passes["theatre"]["text"], tmp_path)
    answer = campus_pass("verify", theatre, "--cache", str(cache), "--facility", "theatre", "--json")
    assert answer.returncode == 0 and json.loads(answer.stdout)["entitlements"] == ["theatre"]
    other = campus_pass("verify", gym, "--cache", str(cache), "--issuer", "https://id.other.test")
    assert other.returncode == 13


def test_an_ended_grant_revokes_its_pass_at_the_next_refresh(
        served: Served, database_url: str, directories: dict[str, SlapdServer], tmp_path: Path) -> None:
    browser = served.app.test_client()
    open_account(browser, "tpu", "demo")
    gym = fresh_passes(browser)["gym"]["text"]
    cache = tmp_path / "cache"
    assert campus_pass("refresh", "--issuer", served.issuer, "--cache", str(cache)).returncode == 0
    assert campus_pass("verify", gym, "--cache", str(cache), "--facility", GYM).returncode == 0

    # The consortium stops granting the gym to students (no grace): the grant ends.
    withdrawn = make_settings(database_url, directories, server={"issuer": served.issuer},
                              **pass_tables(gym_granted=False))
    with served.app.extensions["campus_id"].sessions() as db:
        identities = list(db.scalars(select(Identity)))
        recompute(db, withdrawn, identities, actor="test", reason="gym withdrawn")
        db.commit()
        campus_id = next(i.campus_id for i in identities if i.accounts
                         and i.accounts[0].username == "demo")
    assert sorted(fresh_passes(browser)) == ["theatre"]  # no new gym pass

    # Offline, on the cache from before, the old pass still passes (it expires within minutes)...
    assert campus_pass("verify", gym, "--cache", str(cache), "--facility", GYM).returncode == 0
    # ...and is refused once the turnstile has refreshed its revocation list.
    assert campus_pass("refresh", "--issuer", served.issuer, "--cache", str(cache)).returncode == 0
    listed = json.loads((cache / "revoked.json").read_text(encoding="utf-8"))
    assert [(e["campus_id"], e["entitlement"]) for e in listed["revoked"]] == [(campus_id, GYM)]
    refused = campus_pass("verify", gym, "--cache", str(cache), "--facility", GYM)
    assert refused.returncode == 11 and refused.stdout.startswith(f"REVOKED: {NAME}")


def test_refresh_keeps_the_cache_when_the_issuer_is_down(served: Served, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert campus_pass("refresh", "--issuer", served.issuer, "--cache", str(cache)).returncode == 0
    before = (cache / "jwks.json").read_bytes()
    served.stop()
    failed = campus_pass("refresh", "--issuer", served.issuer, "--cache", str(cache), "--timeout", "3")
    assert failed.returncode == 3 and "not refreshed" in failed.stderr
    assert (cache / "jwks.json").read_bytes() == before


def test_pass_json_needs_a_session_and_the_published_keys_sign_no_rsa(served: Served) -> None:
    browser = served.app.test_client()
    assert browser.get("/account/pass").status_code == 401
    keys = browser.get("/pass/jwks")
    assert keys.status_code == 200 and "max-age" in keys.headers["Cache-Control"]
    assert {k["kty"] for k in keys.json["keys"]} == {"EC", "OKP"}
    listing = browser.get("/pass/revoked")
    assert listing.json == {"issuer": served.issuer, "issued_at": listing.json["issued_at"],
                            "ttl": 60, "revoked": []}
    assert listing.headers["Cache-Control"] == "public, max-age=60"


def test_a_pass_in_the_last_minutes_of_grace_expires_with_the_grace(served: Served) -> None:
    browser = served.app.test_client()
    open_account(browser, "tpu", "demo")
    ends = utcnow() + timedelta(seconds=120)
    with served.app.extensions["campus_id"].sessions() as db:
        grant = db.scalars(select(AccessGrant).where(AccessGrant.resource == "gym")).one()
        grant.state, grant.until = GrantState.GRACE.value, ends
        db.commit()
    passes = fresh_passes(browser)
    assert cose.decode(passes["gym"]["text"]).claims[cose.EXP] == int(ends.timestamp())
    theatre = cose.decode(passes["theatre"]["text"]).claims
    assert theatre[cose.EXP] - theatre[cose.IAT] == 300  # [pass] lifetime_s
