"""``idp access explain`` and ``idp access recompute`` as an operator runs them: a person found
by user@scope (also once their account is gone from the directory), by sub, alias sub or
campus id, an unknown one refused with exit 2; every grant recomputed after a policy change,
and the safety brake holding back mass removals (exit 3) until --accept-removals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.linking import merge
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import GONE, Identity, LinkedAccount
from idp.storage.provisioning import AccessGrant, PolicyFingerprint
from tests.cli.test_cli import CONFIG, run

ACCESS = """
[organizations.tsu]
name = "Tomsk State University"
scope = "tsu.ru"
[organizations.tsu.directory]
uris = ["ldap://127.0.0.1:3892"]
allow_insecure = true
base_dn = "ou=people,dc=tsu,dc=ru"
max_removal_floor = 1
[access.resources.library]
name = "Unified library card"
name_ru = "Единый читательский билет"
kind = "library"
provider = "tsu"
entitlement = "urn:mace:dir:entitlement:common-lib-terms"
[access.policies.students]
resources = ["library"]
affiliations = ["{affiliation}"]
grace_days = 0
"""


def write(path: Path, database_url: str, affiliation: str = "student") -> None:
    path.write_text(CONFIG.format(url=database_url) + ACCESS.replace("{affiliation}", affiliation),
                    encoding="utf-8")


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "idp.toml"
    write(path, database_url)
    assert run("--config", str(path), "db", "upgrade").exit_code == 0
    return path


def people(database_url: str, *names: tuple[str, str, str]) -> dict[str, tuple[str, str]]:
    """(organization, username, affiliation) accounts as their first logins make them; each
    name's (sub, campus_id)."""
    engine = make_engine(database_url)
    made = {}
    with make_session_factory(engine)() as db:
        for org, username, affiliation in names:
            identity = upsert_account(db, DirectoryAccount(
                org, f"{org}-{username}", username, {"affiliation": (affiliation,)})).identity
            db.flush()
            made[username] = (identity.sub, identity.campus_id)
        db.commit()
    engine.dispose()
    return made


def explain(config: Path, person: str) -> dict[str, object]:
    result = run("--config", str(config), "access", "explain", person, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.output)
    return body


def recompute(config: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = run("--config", str(config), "access", "recompute", "--json", *extra)
    return result.exit_code, json.loads(result.output)


def test_explain_finds_the_person_by_account_sub_and_campus_id(config: Path,
                                                               database_url: str) -> None:
    made = people(database_url, ("tpu", "ivanov", "student"), ("tsu", "petrov", "staff"))
    assert recompute(config) == (0, {"identities": 2, "granted": 1, "grace": 0, "ended": 0,
                                     "jobs": 0, "stopped": None})
    sub, campus_id = made["ivanov"]
    body = explain(config, "ivanov@tpu.ru")
    assert body["person"] == {"campus_id": campus_id, "sub": sub}
    grants = body["grants"]
    assert isinstance(grants, list) and len(grants) == 1
    assert grants[0]["resource"] == "library" and grants[0]["state"] == "active"
    assert grants[0]["until"] is None
    assert grants[0]["because"] == [{"policy": "students", "account": "ivanov@tpu.ru"}]
    assert explain(config, sub) == body
    assert explain(config, campus_id) == body
    assert explain(config, "IVANOV@TPU.RU") == body
    assert explain(config, "petrov@tsu.ru")["grants"] == []

    human = run("--config", str(config), "access", "explain", "ivanov@tpu.ru")
    assert human.exit_code == 0
    assert "library" in human.output and "students (ivanov@tpu.ru)" in human.output


def test_a_sub_that_begins_with_a_dash_is_taken_as_the_person(config: Path, database_url: str) -> None:
    """A sub is base64url: one in 64 begins with "-", which must not read as an unknown option."""
    made = people(database_url, ("tpu", "ivanov", "student"))
    dashed = "-ZPC2OyoAqlF2vyii_CdWoUuwglg0CFU"
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        db.execute(update(Identity).where(Identity.sub == made["ivanov"][0]).values(sub=dashed))
        db.commit()
    engine.dispose()
    assert explain(config, dashed)["person"] == {"campus_id": made["ivanov"][1], "sub": dashed}
    shown = run("--config", str(config), "identities", "show", dashed)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["sub"] == dashed
    unknown = run("--config", str(config), "identities", "show", "-nobody")
    assert unknown.exit_code != 0 and "No such option" not in unknown.output


def test_explain_finds_a_gone_account_and_an_absorbed_sub(config: Path, database_url: str) -> None:
    made = people(database_url, ("tpu", "ivanov", "student"), ("tsu", "ivan", "student"))
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        survivor = db.scalars(select(Identity).where(Identity.sub == made["ivanov"][0])).one()
        merge.link_account(db, survivor, "tsu:ivan", reason="one person", actor="test")
        db.execute(update(LinkedAccount).where(LinkedAccount.username == "ivan")
                   .values(directory_state=GONE))
        db.commit()
    engine.dispose()
    assert recompute(config)[0] == 0
    body = explain(config, "ivan@tsu.ru")  # gone from the directory: still found
    assert body["person"] == {"campus_id": made["ivanov"][1], "sub": made["ivanov"][0]}
    assert explain(config, made["ivan"][0]) == body  # the absorbed sub is an alias
    assert explain(config, made["ivan"][1]) == body  # so is its campus id
    grants = body["grants"]
    assert isinstance(grants, list)
    assert grants[0]["because"] == [{"policy": "students", "account": "ivanov@tpu.ru"}]


def test_a_username_handed_on_finds_its_holder_in_the_directory(config: Path,
                                                                database_url: str) -> None:
    old = people(database_url, ("tsu", "ivan", "staff"))["ivan"]
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        db.execute(update(LinkedAccount).values(directory_state=GONE))
        db.commit()
    engine.dispose()
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:  # a new entry, given the name ivan again
        upsert_account(db, DirectoryAccount("tsu", "tsu-ivan-2", "ivan", {}))
        db.commit()
        holder = db.scalars(select(LinkedAccount).where(
            LinkedAccount.external_id == "tsu-ivan-2")).one().identity.sub
    engine.dispose()
    assert holder != old[0]
    assert explain(config, "ivan@tsu.ru")["person"]["sub"] == holder  # type: ignore[index]
    assert explain(config, old[0])["person"]["sub"] == old[0]  # type: ignore[index]


@pytest.mark.parametrize("person", ["nobody@tpu.ru", "ivanov@unknown.example", "000000000",
                                    "no-such-sub", "@tpu.ru"])
def test_an_unknown_person_exits_2_with_a_message(config: Path, database_url: str,
                                                  person: str) -> None:
    people(database_url, ("tpu", "ivanov", "student"))
    result = run("--config", str(config), "access", "explain", person, "--json")
    assert result.exit_code == 2
    assert f"no person is known as {person!r}" in result.output
    assert "user@scope" in result.output


def test_the_brake_holds_mass_removals_until_accepted(config: Path, database_url: str) -> None:
    people(database_url, *(("tsu", f"student{i}", "student") for i in range(3)),
           ("tpu", "staffer", "staff"))
    assert recompute(config)[1]["granted"] == 3
    first = fingerprint(database_url)
    assert first is not None

    write(config, database_url, affiliation="staff")  # the policy changes to staff only
    code, body = recompute(config)
    assert code == 3
    assert body["granted"] == 1 and body["ended"] == 0
    stopped = body["stopped"]
    assert isinstance(stopped, dict) and list(stopped) == ["tsu"]  # its floor: 1 account
    assert "would end access for 3 of 3" in stopped["tsu"]
    assert explain(config, "student0@tsu.ru")["grants"][0]["state"] == "active"  # type: ignore[index]
    assert fingerprint(database_url) == first  # not applied: serve tries again at its start

    human = run("--config", str(config), "access", "recompute")
    assert human.exit_code == 3 and "stopped tsu:" in human.output

    code, body = recompute(config, "--accept-removals")
    assert code == 0 and body["ended"] == 3 and body["stopped"] is None
    assert explain(config, "student0@tsu.ru")["grants"][0]["state"] == "ended"  # type: ignore[index]
    assert fingerprint(database_url) not in (None, first)
    assert recompute(config) == (0, {"identities": 4, "granted": 0, "grace": 0, "ended": 0,
                                     "jobs": 0, "stopped": None})


def fingerprint(database_url: str) -> str | None:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        row = db.get(PolicyFingerprint, "access")
        value = row.fingerprint if row is not None else None
        assert db.scalars(select(AccessGrant)).first() is not None
    engine.dispose()
    return value


def test_serve_recomputes_at_start_only_when_the_access_settings_changed(
        config: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import idp.web.serve

    served: list[str] = []
    monkeypatch.setattr(idp.web.serve, "serve", lambda *_a, **_k: served.append("served"))
    people(database_url, *(("tsu", f"student{i}", "student") for i in range(3)))

    assert run("--config", str(config), "serve").exit_code == 0
    assert served == ["served"]
    assert explain(config, "student1@tsu.ru")["grants"][0]["state"] == "active"  # type: ignore[index]
    first = fingerprint(database_url)

    write(config, database_url, affiliation="staff")  # would end access for all three
    with caplog.at_level("ERROR"):
        assert run("--config", str(config), "serve").exit_code == 0  # serving goes on
    assert served == ["served", "served"]
    assert "ACCESS NOT APPLIED for tsu" in caplog.text
    assert "would end access for 3 of 3" in caplog.text
    assert explain(config, "student1@tsu.ru")["grants"][0]["state"] == "active"  # type: ignore[index]
    assert fingerprint(database_url) == first  # tried again at the next start

    assert recompute(config, "--accept-removals")[0] == 0
    caplog.clear()
    with caplog.at_level("INFO"):
        assert run("--config", str(config), "serve").exit_code == 0
    assert "grants recomputed" not in caplog.text  # applied already: no pass over everyone
