"""The demo's access configuration: a library card delivered to the demo webhook receiver, a
gym pass delivered nowhere (checked at the door), one policy giving both to the students and
staff of every demo university, and a delivery schedule short enough to watch retries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demo import people
from demo.webhook_receiver import new_secret

CONNECTOR = "demo_webhook"
AFFILIATIONS = ["student", "staff", "faculty", "employee"]
# Seconds: a failed delivery is tried again after 1 s, 2 s, 4 s ... at most 10 s apart, and
# dead-lettered after 10 minutes; a job a killed worker held is taken again after 30 s.
DELIVERY = {"first_retry_s": 1, "max_retry_s": 10, "max_age_s": 600, "claim_timeout_s": 30,
            "batch_size": 100, "poll_interval_s": 0.5}


def secret_file(workdir: Path) -> Path:
    """The webhook secret the worker signs with and the receiver checks: made once, 0600."""
    path = workdir / "webhook.secret"
    if not path.exists():
        path.write_text(new_secret() + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


def access_config(organizations: Sequence[str], receiver_url: str,
                  secret_path: Path) -> dict[str, Any]:
    """The ``[access]``, ``[connectors]`` and ``[delivery]`` tables of the demo configuration."""
    resources = {
        "library": {
            "name": "Unified library card", "name_ru": "Единый читательский билет",
            "kind": "library", "provider": "tsu", "connectors": [CONNECTOR],
            "entitlement": people.LIBRARY_TERMS,
        },
        "gym": {
            "name": "Sports complex pass", "name_ru": "Абонемент в спорткомплекс",
            "kind": "sports", "provider": "tpu",
        },
    }
    policies = {
        "students_and_staff": {
            "resources": ["library", "gym"], "organizations": list(organizations),
            "affiliations": AFFILIATIONS, "grace_days": 30,
        },
    }
    return {
        "access": {"resources": resources, "policies": policies},
        "connectors": {CONNECTOR: {"type": "webhook", "url": receiver_url,
                                   "secret_file": str(secret_path), "timeout_s": 5}},
        "delivery": dict(DELIVERY),
    }
