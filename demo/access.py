"""The demo's access configuration: a library card delivered to the demo library (a real SCIM
server) and announced to the demo webhook receiver, a gym pass delivered nowhere (a turnstile
checks it offline), a joint-programme course delivered to the stand-in Moodle; one policy giving
the card and the pass to the students and staff of every demo university, one giving the course
to their students; and a delivery schedule short enough to watch retries."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo import people
from demo.webhook_receiver import new_secret

CONNECTOR = "demo_webhook"
SCIM_CONNECTOR = "demo_library"
MOODLE_CONNECTOR = "demo_moodle"
AFFILIATIONS = ["student", "staff", "faculty", "employee"]
GYM_TERMS = "urn:mace:campus-id.example:entitlement:sports-complex"
COURSE = "jm-ai"
COURSE_NAME = "Joint programme JM-AI"
MOODLE_COURSE_ID = 7  # the course's id on the stand-in Moodle (course/view.php?id=7)
# Organization id -> the idnumber of the Moodle cohort its people join.
MOODLE_COHORTS = {org: f"campus-{org}" for org in ("tpu", "tsu", "tusur")}
# Seconds: a failed delivery is tried again after 1 s, 2 s, 4 s ... at most 10 s apart, and
# dead-lettered after 10 minutes; a job a killed worker held is taken again after 30 s.
DELIVERY = {"first_retry_s": 1, "max_retry_s": 10, "max_age_s": 600, "claim_timeout_s": 30,
            "batch_size": 100, "poll_interval_s": 0.5}


@dataclass(frozen=True)
class DemoSystems:
    """Where the demo's downstream systems listen, and the files holding their secrets."""

    webhook_url: str
    webhook_secret_file: Path
    scim_url: str
    scim_token_file: Path
    moodle_url: str
    moodle_token_file: Path


def secret_file(workdir: Path) -> Path:
    """The webhook secret the worker signs with and the receiver checks: made once, 0600."""
    return _made_once(workdir / "webhook.secret", new_secret)


def scim_token_file(workdir: Path) -> Path:
    """The bearer token the demo library (SCIM server) accepts: made once, 0600."""
    return _made_once(workdir / "scim.token", lambda: secrets.token_urlsafe(32))


def moodle_token_file(workdir: Path) -> Path:
    """The web service token of the stand-in Moodle: made once, 0600 (32 hex digits, as
    Moodle's own tokens)."""
    return _made_once(workdir / "moodle.token", lambda: secrets.token_hex(16))


def read_secret(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _made_once(path: Path, make: Any) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(0o600)
        path.write_text(str(make()) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def access_config(organizations: Sequence[str], systems: DemoSystems) -> dict[str, Any]:
    """The ``[access]``, ``[connectors]`` and ``[delivery]`` tables of the demo configuration."""
    resources = {
        "library": {
            "name": "Unified library card", "name_ru": "Единый читательский билет",
            "kind": "library", "provider": "tsu", "connectors": [SCIM_CONNECTOR, CONNECTOR],
            "entitlement": people.LIBRARY_TERMS,
        },
        "gym": {
            "name": "Sports complex pass", "name_ru": "Абонемент в спорткомплекс",
            "kind": "sports", "provider": "tpu", "entitlement": GYM_TERMS,
        },
        COURSE: {
            "name": COURSE_NAME, "name_ru": "Совместная программа JM-AI",
            "kind": "course", "provider": "tsu", "connectors": [MOODLE_CONNECTOR, CONNECTOR],
        },
    }
    policies = {
        "students_and_staff": {
            "resources": ["library", "gym"], "organizations": list(organizations),
            "affiliations": AFFILIATIONS, "grace_days": 30,
        },
        "students_joint_programme": {
            "resources": [COURSE], "organizations": list(organizations),
            "affiliations": ["student"], "grace_days": 30,
        },
    }
    connectors = {
        CONNECTOR: {"type": "webhook", "url": systems.webhook_url,
                    "secret_file": str(systems.webhook_secret_file), "timeout_s": 5},
        SCIM_CONNECTOR: {
            "type": "scim", "url": systems.scim_url, "allow_insecure": True,
            "token_file": str(systems.scim_token_file), "timeout_s": 5,
            "organization_names": {org: people.organization(org).name for org in organizations},
        },
        MOODLE_CONNECTOR: {
            "type": "moodle", "url": systems.moodle_url,
            "token_file": str(systems.moodle_token_file), "timeout_s": 5,
            "courses": {COURSE: MOODLE_COURSE_ID}, "role_id": 5,
            "cohorts": {org: MOODLE_COHORTS[org] for org in organizations},
        },
    }
    return {
        "access": {"resources": resources, "policies": policies},
        "connectors": connectors,
        "delivery": dict(DELIVERY),
    }
