"""Policy evaluation, pure: every condition holds for one and the same account."""

from __future__ import annotations

from datetime import date

from idp.provisioning.policies import AccountFacts, Reason, entitled, grace_days, policy_holds
from idp.settings.model import AccessSettings, PolicySettings

TODAY = date(2026, 10, 1)


def account(org: str = "tpu", active: bool = True, **attributes: tuple[str, ...]) -> AccountFacts:
    return AccountFacts(1, org, f"u@{org}.ru", active, attributes)


def test_conditions_must_hold_on_the_same_account() -> None:
    policy = PolicySettings("p", ("lib",), organizations=("tpu",), affiliations=("student",))
    assert policy_holds(policy, account(affiliation=("student",)), TODAY)
    assert not policy_holds(policy, account("tsu", affiliation=("student",)), TODAY)
    assert not policy_holds(policy, account(affiliation=("staff",)), TODAY)
    assert not policy_holds(policy, account(active=False, affiliation=("student",)), TODAY)
    tpu_staff = AccountFacts(1, "tpu", "a@tpu.ru", True, {"affiliation": ("staff",)})
    tsu_student = AccountFacts(2, "tsu", "b@tsu.ru", True, {"affiliation": ("student",)})
    assert entitled(AccessSettings({}, {"p": policy}), [tpu_staff, tsu_student], TODAY) == {}


def test_window_is_inclusive_and_attributes_need_an_accepted_value() -> None:
    policy = PolicySettings("p", ("lib",), valid_from=date(2026, 9, 1),
                            valid_until=date(2026, 10, 1),
                            attributes={"programme": ("JM-AI-2026",)})
    good = account(programme=("X", "JM-AI-2026"))
    assert policy_holds(policy, good, TODAY)
    assert not policy_holds(policy, good, date(2026, 10, 2))
    assert not policy_holds(policy, good, date(2026, 8, 31))
    assert not policy_holds(policy, account(programme=("X",)), TODAY)


def test_reasons_list_every_policy_and_account_and_grace_is_the_longest() -> None:
    access = AccessSettings({}, {
        "a": PolicySettings("a", ("lib", "gym"), grace_days=5),
        "b": PolicySettings("b", ("lib",), organizations=("tsu",), grace_days=30),
    })
    one = AccountFacts(1, "tpu", "x@tpu.ru", True, {})
    two = AccountFacts(2, "tsu", "y@tsu.ru", True, {})
    result = entitled(access, [one, two], TODAY)
    assert result["lib"] == [Reason("a", "x@tpu.ru", 1), Reason("a", "y@tsu.ru", 2),
                             Reason("b", "y@tsu.ru", 2)]
    assert result["gym"] == [Reason("a", "x@tpu.ru", 1), Reason("a", "y@tsu.ru", 2)]
    assert grace_days(access, ["a", "b"]) == 30
    assert grace_days(access, ["gone"]) == 0
