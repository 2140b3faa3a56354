"""The primary account: the person's own choice while that account is theirs, else the
configured precedence, then the oldest link."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.identity.claims import primary_account
from idp.storage.identities import Identity, LinkedAccount, PrimaryAccount
from idp.web.messages import MESSAGES


def person() -> Identity:
    identity = Identity(id=1, sub="s", campus_id="123456782")
    identity.accounts = [
        LinkedAccount(id=1, organization="tsu", external_id="a", username="ivanov",
                      linked_at=datetime(2025, 1, 1, tzinfo=UTC), attributes={}),
        LinkedAccount(id=2, organization="tpu", external_id="b", username="ivanov",
                      linked_at=datetime(2026, 1, 1, tzinfo=UTC), attributes={}),
    ]
    return identity


def test_without_a_choice_precedence_then_oldest_link_decides() -> None:
    assert primary_account(person()).id == 1
    assert primary_account(person(), ("tpu",)).id == 2


def test_the_persons_choice_wins_over_precedence() -> None:
    identity = person()
    identity.primary_choice = PrimaryAccount(identity_id=1, account_id=1)
    assert primary_account(identity, ("tpu",)).id == 1


def test_a_choice_of_an_account_that_moved_away_is_ignored() -> None:
    identity = person()
    identity.primary_choice = PrimaryAccount(identity_id=1, account_id=99)
    assert primary_account(identity, ("tpu",)).id == 2


def test_every_account_page_text_exists_in_both_languages() -> None:
    english = {k for k in MESSAGES["en"] if k.startswith("account.")}
    russian = {k for k in MESSAGES["ru"] if k.startswith("account.")}
    assert english == russian and len(english) > 20
