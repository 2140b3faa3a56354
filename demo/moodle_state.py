"""What the demo's stand-in Moodle holds, kept in a JSON file between two runs of the demo, as
the provider's database is: the people it already delivered to stay enrolled in Moodle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demo.moodle_standin import Enrolment, Site


def save(site: Site, path: Path) -> None:
    data = {
        "users": list(site.users.values()),
        "cohorts": {idnumber: sorted(ids) for idnumber, ids in site.cohorts.items()},
        "courses": {str(course): {str(user): {"status": e.status, "roles": sorted(e.roles)}
                                  for user, e in users.items()}
                    for course, users in site.courses.items()},
        "next_id": site.next_id,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def load(path: Path, into: Site) -> None:
    """Adds what ``path`` holds to ``into`` (its cohorts and courses come from the demo's
    configuration: a cohort or course no longer there is left out); no file, nothing added."""
    if not path.exists():
        return
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    into.users.update({int(u["id"]): u for u in data["users"]})
    for idnumber, ids in data["cohorts"].items():
        if idnumber in into.cohorts:
            into.cohorts[idnumber].update(ids)
    for course, users in data["courses"].items():
        if int(course) in into.courses:
            into.courses[int(course)].update({
                int(user): Enrolment(e["status"], set(e["roles"])) for user, e in users.items()})
    into.next_id = max(into.next_id, int(data["next_id"]))
