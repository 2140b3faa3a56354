"""The digest ``idp serve`` compares at start: the same for the same resources and policies in
any order, different when anything a grant depends on changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from idp.provisioning.applied import fingerprint
from idp.settings.model import AccessSettings, PolicySettings, ResourceKind, ResourceSettings

LIBRARY = ResourceSettings("library", "Library", "Библиотека", ResourceKind.LIBRARY, "tsu",
                           ("hook",), "urn:mace:dir:entitlement:common-lib-terms")
GYM = ResourceSettings("gym", "Gym", "Спортзал", ResourceKind.SPORTS)
STUDENTS = PolicySettings("students", ("library", "gym"), ("tpu",), ("student",),
                          {"programme": ("JM-AI-2026",)}, date(2026, 9, 1), None, 30)


def access(*policies: PolicySettings, resources: tuple[ResourceSettings, ...] = (LIBRARY, GYM),
           ) -> AccessSettings:
    return AccessSettings({r.id: r for r in resources}, {p.id: p for p in policies})


def test_the_same_settings_in_another_order_give_the_same_digest() -> None:
    staff = PolicySettings("staff", ("library",), affiliations=("staff",))
    one = fingerprint(access(STUDENTS, staff))
    assert one == fingerprint(access(staff, STUDENTS, resources=(GYM, LIBRARY)))
    assert len(one) == 64 and int(one, 16) >= 0


def test_every_change_that_matters_changes_it() -> None:
    base = fingerprint(access(STUDENTS))
    changed = [
        access(replace(STUDENTS, grace_days=0)),
        access(replace(STUDENTS, valid_until=date(2027, 7, 1))),
        access(replace(STUDENTS, attributes={"programme": ("JM-AI-2027",)})),
        access(replace(STUDENTS, resources=("library",))),
        access(STUDENTS, resources=(replace(LIBRARY, entitlement=""), GYM)),
        access(),
    ]
    digests = {fingerprint(a) for a in changed}
    assert base not in digests and len(digests) == len(changed)
