"""``idp card show`` and ``idp card reissue`` as the helpdesk runs them: a student with
library access has a card; a re-issue revokes it, issues a new number and queues the library's
delivery; an unknown person is refused with exit 2, a person without card or library with 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.provisioning.card_numbers import damm_valid
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
