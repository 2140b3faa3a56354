"""``idp card show`` and ``idp card reissue`` as the helpdesk runs them: a student with
library access has a card; a re-issue revokes it, issues a new number and queues the library's
delivery; an unknown person is refused with exit 2, a person without card or library with 4.
A card number names its holder (active or revoked, and show says which); one typed with a
wrong digit or two neighbours swapped is refused with exit 2 and the check digit's reason,
by ``idp card`` and ``idp access explain`` alike, never looked up as something else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.provisioning.card_numbers import damm_valid, grouped
from idp.storage.base import make_engine, make_session_factory
from idp.storage.provisioning import DeliveryJob
from tests.cli.test_access_cli import people, recompute, write
from tests.cli.test_cli import run

HOOK = """
[connectors.hook]
type = "webhook"
url = "https://library.example/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "idp.toml"
    write(path, database_url)
    text = path.read_text(encoding="utf-8").replace(
        'kind = "library"', 'kind = "library"\nconnectors = ["hook"]')
    path.write_text(text + HOOK, encoding="utf-8")
    assert run("--config", str(path), "db", "upgrade").exit_code == 0, "db upgrade"
    return path


def show(config: Path, person: str) -> dict[str, object]:
    result = run("--config", str(config), "card", "show", person, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.output)
    return body


def test_show_and_reissue(config: Path, database_url: str) -> None:
    made = people(database_url, ("tsu", "anna", "student"), ("tsu", "lev", "alum"))
    assert recompute(config)[0] == 0
    before = show(config, "anna@tsu.ru")
    number = before["card_number"]
    assert isinstance(number, str) and damm_valid(number)
    assert show(config, made["anna"][1]) == before  # by campus id too

    result = run("--config", str(config), "card", "reissue", "anna@tsu.ru", "--reason",
                 "lost", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["previous_card_number"] == number and body["card_number"] != number
    after = show(config, made["anna"][0])
    assert after["card_number"] == body["card_number"]
    assert [(c["number"], c["state"]) for c in after["cards"]] == [  # type: ignore[attr-defined]
        (body["card_number"], "active"), (number, "revoked")]
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        [job] = db.scalars(select(DeliveryJob).where(DeliveryJob.id.in_(body["jobs"])))
        assert job.payload["person"]["previous_card_number"] == number
        assert job.payload["person"]["card_number"] == body["card_number"]
    engine.dispose()

    plain = run("--config", str(config), "card", "show", "anna@tsu.ru")
    assert plain.exit_code == 0 and f"{number} revoked" in plain.output

    nothing = run("--config", str(config), "card", "reissue", "lev@tsu.ru", "--reason", "lost")
    assert nothing.exit_code == 4 and "no active campus card" in nothing.output


def test_an_unknown_person_exits_2(config: Path) -> None:
    for command in (["show", "nobody@tsu.ru"], ["reissue", "nobody@tsu.ru", "--reason", "x"]):
        result = run("--config", str(config), "card", *command)
        assert result.exit_code == 2 and "no person is known" in result.output


def test_an_empty_reason_exits_2(config: Path, database_url: str) -> None:
    people(database_url, ("tsu", "anna", "student"))
    assert recompute(config)[0] == 0
    result = run("--config", str(config), "card", "reissue", "anna@tsu.ru", "--reason", " ")
    assert result.exit_code == 2 and "reason" in result.output


MISTYPED = "The check digit does not match: a digit was mistyped or two neighbouring digits " \
           "were swapped."


def one_digit_wrong(number: str) -> str:
    return number[:5] + str((int(number[5]) + 1) % 10) + number[6:]


def neighbours_swapped(number: str) -> str:
    i = next(i for i in range(1, len(number) - 1) if number[i] != number[i + 1])
    return number[:i] + number[i + 1] + number[i] + number[i + 2:]


def test_a_card_number_names_its_holder_active_or_revoked(config: Path, database_url: str) -> None:
    made = people(database_url, ("tsu", "anna", "student"), ("tsu", "boris", "student"))
    assert recompute(config)[0] == 0
    number = show(config, "anna@tsu.ru")["card_number"]
    assert isinstance(number, str)
    by_card = show(config, grouped(number).replace(" ", "-"))
    assert by_card["sub"] == made["anna"][0] and by_card["card_number"] == number
    assert by_card["named_card"]["state"] == "active"  # type: ignore[index]
    explained = run("--config", str(config), "access", "explain", grouped(number), "--json")
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.output)["person"]["sub"] == made["anna"][0]

    assert run("--config", str(config), "card", "reissue", number, "--reason",
               "lost").exit_code == 0
    old = show(config, number)
    assert old["sub"] == made["anna"][0] and old["card_number"] != number
    assert old["named_card"]["state"] == "revoked"  # type: ignore[index]
    plain = run("--config", str(config), "card", "show", grouped(number))
    assert plain.exit_code == 0 and plain.output.startswith(f"card {number} is revoked since ")


@pytest.mark.parametrize("mistype", [one_digit_wrong, neighbours_swapped])
def test_a_mistyped_card_number_exits_2_with_the_reason(config: Path, database_url: str,
                                                         mistype: Callable[[str], str]) -> None:
    people(database_url, ("tsu", "anna", "student"), ("tsu", "boris", "student"))
    assert recompute(config)[0] == 0
    number = show(config, "anna@tsu.ru")["card_number"]
    assert isinstance(number, str)
    typed = grouped(mistype(number))
    assert typed.replace(" ", "") != number
    for command in (["card", "show", typed], ["card", "reissue", typed, "--reason", "lost"],
                    ["access", "explain", typed]):
        result = run("--config", str(config), *command)
        assert result.exit_code == 2, result.output
        assert f"{typed!r} is not a card number. {MISTYPED}" in result.output
    assert show(config, "anna@tsu.ru")["card_number"] == number  # nothing re-issued


def test_digits_that_are_no_card_number_say_why(config: Path) -> None:
    for typed, reason in (("1234 5678 901", "A card number has 12 digits; this has 11."),
                          ("0234-5678-9012", "A card number never starts with 0.")):
        result = run("--config", str(config), "card", "show", typed)
        assert result.exit_code == 2 and reason in result.output, result.output
