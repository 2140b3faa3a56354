"""campus-pass installs alone (docs/connectors.md, "The sports and culture pass"): `pip install`
of a copy of its folder into a new virtual environment outside the checkout, with its own
dependencies only, gives a `campus-pass` command that verifies a pass offline, and that
environment has no Campus ID provider in it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import venv
from pathlib import Path

from joserfc.jwk import ECKey

from idp.passes.wire import PassClaims, encode

SOURCE = Path(__file__).resolve().parents[2] / "campus-pass"
ISSUER = "https://id.campus.test"


def test_pip_install_alone_gives_a_working_command(tmp_path: Path) -> None:
    copy = tmp_path / "campus-pass"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    installed = subprocess.run([env / "bin" / "pip", "install", "--quiet", str(copy)],
                               capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert subprocess.run([env / "bin" / "python", "-c", "import idp"], capture_output=True,
                          cwd=tmp_path, timeout=60, check=False).returncode != 0  # no provider

    key = ECKey.generate_key("P-256", parameters={"kid": "es256-k1", "alg": "ES256"}, private=True)
    now = int(time.time())
    text = encode(PassClaims(ISSUER, "176490142", "Иванова Анна", ("urn:x:gym",), now, now + 300,
                             b"\x02" * 8), "ES256", key)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    (tmp_path / "revoked.json").write_text(json.dumps(
        {"issuer": ISSUER, "issued_at": now, "ttl": 60, "revoked": []}))
    answer = subprocess.run([env / "bin" / "campus-pass", "verify", text, "--cache", str(tmp_path),
                             "--facility", "urn:x:gym"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60, check=False)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert answer.stdout.startswith("VALID: Иванова Анна (campus id 176490142)")
