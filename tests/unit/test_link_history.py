"""How an account came to its identity, told from audit events, and when the person may undo
it: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idp.linking.history import Arrival, How, accounts_brought, how_of_event, may_undo, refusal
from idp.storage.identities import LinkedAccount

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def account(id: int, linked_days_ago: float) -> LinkedAccount:
    return LinkedAccount(id=id, organization="tpu", username=f"u{id}",
                         linked_at=NOW - timedelta(days=linked_days_ago))


def arrival(of: LinkedAccount, how: How = How.PERSON) -> Arrival:
    return Arrival(of, of.linked_at, how)


def test_events_say_how_an_account_arrived() -> None:
    person = {"evidence": {"method": "person"}}
    assert how_of_event("identity.created", "system", {}) == (How.FIRST_LOGIN, None)
    assert how_of_event("account.linked", "rule:snils", {"rules": ["snils"]}) == (How.RULE, "snils")
    assert how_of_event("account.linked", "tpu:ivanov", person) == (How.PERSON, None)
    assert how_of_event("identity.merged", "tpu:ivanov", person) == (How.PERSON, None)
    helpdesk = {"evidence": {"method": "helpdesk"}}
    assert how_of_event("identity.merged", "cli:anna", helpdesk) == (How.STAFF, None)
    approved = {"rule": "name_birthdate", "evidence": {"method": "proposal"}}
    assert how_of_event("link.approved", "helpdesk-tsu", approved) == (How.STAFF, "name_birthdate")
    accepted = {"rule": "name_birthdate", "evidence": {"method": "proposal", "decided_by": "person"}}
    assert how_of_event("link.approved", "tsu:anna", accepted) == (How.PERSON, "name_birthdate")


def test_a_merge_brings_every_account_of_the_absorbed_identity() -> None:
    merged = {"absorbed_sub": "B", "before": {"A": ["tpu:a"], "B": ["tsu:b", "tusur:b"]}}
    assert accounts_brought("identity.merged", merged) == ["tsu:b", "tusur:b"]
    assert accounts_brought("link.approved", {**merged, "absorbed_sub": None}) == []  # already one
    assert accounts_brought("account.linked", {"account": "tsu:c"}) == ["tsu:c"]


def test_only_recent_links_after_the_signed_in_account_may_be_undone() -> None:
    mine = account(1, 400)
    assert may_undo(arrival(account(2, 30)), mine, NOW)
    assert not may_undo(arrival(account(2, 30.01)), mine, NOW)
    for how in (How.FIRST_LOGIN, How.UNLINK, How.UNKNOWN):
        assert not may_undo(arrival(account(2, 1), how), mine, NOW)
    assert not may_undo(arrival(mine), mine, NOW)
    assert refusal(arrival(mine), mine, NOW) == "the signed-in account"
    latecomer = account(3, 2)
    earlier = arrival(account(2, 5), How.RULE)
    assert not may_undo(earlier, latecomer, NOW)
    assert refusal(earlier, latecomer, NOW) == "linked before the signed-in account"
    assert may_undo(arrival(latecomer), account(2, 5), NOW)
