"""Linking by rule at login, over real slapd directories that write the SNILS and the birth
date each their own way: the demo's people with accounts at two or three universities."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, inspect, select, text

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.settings import Settings
from idp.storage import audit, driver
from idp.storage.audit import AuditEventType
from idp.storage.identities import Identity
from idp.storage.linking import LinkProposal
from tests.flows.conftest import RP1, make_settings
from tests.flows.test_code_flow import verify_id_token
from tests.support.oidc_client import sign_in

LINKING = {"rules": people.LINKING_RULES}


@pytest.fixture
def database(migrated_database_url: str) -> str:
    return migrated_database_url


def provider(database: str, directories: dict[str, SlapdServer], *, rules: bool = True) -> Flask:
    settings: Settings = make_settings(database, directories, **({"linking": LINKING} if rules else {}))
    return create_app(settings)


@pytest.fixture
def app(database: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    app = provider(database, directories)
    yield app
    app.extensions["campus_id"].engine.dispose()


def log_in(app: Flask, org: str, username: str) -> dict[str, Any]:
    """A fresh browser logs in at RP1; the verified ID token's claims, with UserInfo's."""
    browser = app.test_client()
    password = people.organization(org).person(username).password
    result = sign_in(browser, RP1, username, password, organization=org)
    tokens = RP1.token(browser, result["code"]).json
    claims = verify_id_token(browser, RP1, tokens["id_token"], result["_nonce"], tokens["access_token"])
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json["sub"] == claims["sub"]
    return {**info.json, **claims}


def events(app: Flask, type: AuditEventType) -> list[audit.AuditEvent]:
    with app.extensions["campus_id"].sessions() as db:
        return audit.events(db, type)


def proposals(app: Flask) -> list[LinkProposal]:
    with app.extensions["campus_id"].sessions() as db:
        return list(db.scalars(select(LinkProposal).order_by(LinkProposal.id)))


def test_joint_students_two_logins_give_one_sub_and_campus_id(app: Flask) -> None:
    at_tpu = log_in(app, "tpu", "pgrigorieva")  # SNILS 15263748574, born 2001-03-15
    at_tusur = log_in(app, "tusur", "grigorieva.pa")  # SNILS 152-637-485 74, born 20010315000000Z
    assert at_tusur["sub"] == at_tpu["sub"]
    assert at_tusur["campus_id"] == at_tpu["campus_id"]
    assert at_tusur["organizations"] == ["tpu", "tusur"]
    assert at_tusur["affiliations"] == ["member@tpu.ru", "member@tusur.ru", "student@tpu.ru",
                                        "student@tusur.ru"]
    assert at_tusur["preferred_username"] == "pgrigorieva@tpu.ru"  # the first account is primary
    assert log_in(app, "tusur", "grigorieva.pa")["sub"] == at_tpu["sub"]  # and stays linked

    [linked] = events(app, AuditEventType.ACCOUNT_LINKED)
    assert linked.actor == "rule:snils"
    assert linked.details["account"] == "tusur:grigorieva.pa"
    assert linked.details["matched"] == ["tpu:pgrigorieva"]
    assert linked.details["sub"] == at_tpu["sub"]
    assert proposals(app) == []
    with app.extensions["campus_id"].sessions() as db:
        assert [i.sub for i in db.scalars(select(Identity))] == [at_tpu["sub"]]


def test_a_propose_rule_queues_a_proposal_and_keeps_two_subs(app: Flask) -> None:
    at_tsu = log_in(app, "tsu", "alena.elkina")  # Ёлкина Алёна, 05.11.1990, no SNILS
    at_tusur = log_in(app, "tusur", "elkina.av")  # Елкина Алена, 19901105000000Z, no SNILS
    assert at_tsu["sub"] != at_tusur["sub"]
    assert at_tusur["organizations"] == ["tusur"]
    log_in(app, "tsu", "alena.elkina")  # the pair is already queued: no second proposal

    [proposal] = proposals(app)
    assert (proposal.rule, proposal.reason, proposal.status) == (
        "name_birthdate", "propose_rule", "pending")
    [proposed] = events(app, AuditEventType.LINK_PROPOSED)
    assert proposed.actor == "rule:name_birthdate"
    assert proposed.details["account"] == "tusur:elkina.av"
    assert proposed.details["matched"] == ["tsu:alena.elkina"]
    assert events(app, AuditEventType.ACCOUNT_LINKED) == []


def test_an_invalid_snils_logs_in_links_nothing_and_is_reported_once(app: Flask) -> None:
    at_tpu = log_in(app, "tpu", "tgaliev")
    at_tusur = log_in(app, "tusur", "galiev.tr")  # check number wrong
    again = log_in(app, "tusur", "galiev.tr")
    assert at_tusur["sub"] == again["sub"] != at_tpu["sub"]
    assert again["preferred_username"] == "galiev.tr@tusur.ru"

    [reported] = events(app, AuditEventType.LINK_VALUE_INVALID)
    assert reported.actor == "rule:snils" and reported.organization == "tusur"
    assert reported.details == {"rule": "snils", "claim": "snils", "account": "tusur:galiev.tr",
                                "reason": "snils: the check number does not match"}
    assert events(app, AuditEventType.ACCOUNT_LINKED) == []
    # Name and birth date still agree: the weaker rule proposes, for a person to decide.
    assert [(p.rule, p.reason) for p in proposals(app)] == [("name_birthdate", "propose_rule")]


def test_identities_that_already_had_logins_are_proposed_not_merged(
        database: str, directories: dict[str, SlapdServer]) -> None:
    before = provider(database, directories, rules=False)  # the rules came later
    first_tpu = log_in(before, "tpu", "vzhukov")["sub"]
    first_tsu = log_in(before, "tsu", "viktor.zhukov")["sub"]
    before.extensions["campus_id"].engine.dispose()
    assert first_tpu != first_tsu

    app = provider(database, directories)
    assert log_in(app, "tpu", "vzhukov")["sub"] == first_tpu
    assert log_in(app, "tsu", "viktor.zhukov")["sub"] == first_tsu
    assert sorted((p.rule, p.reason) for p in proposals(app)) == [
        ("name_birthdate", "propose_rule"), ("snils", "merge_required")]

    # A third account matches both identities: nothing merges, both candidates are queued.
    at_tusur = log_in(app, "tusur", "zhukov.vo")["sub"]
    assert len({first_tpu, first_tsu, at_tusur}) == 3
    several = [p for p in proposals(app) if p.reason == "several_matches"]
    assert [p.rule for p in several] == ["snils", "snils"]
    assert {p.candidate_identity_id for p in several} == {
        p.identity_id for p in proposals(app) if p.reason == "merge_required"} | {
        p.candidate_identity_id for p in proposals(app) if p.reason == "merge_required"}
    assert events(app, AuditEventType.ACCOUNT_LINKED) == []
    app.extensions["campus_id"].engine.dispose()


def test_clear_match_values_are_stored_nowhere(app: Flask) -> None:
    for org, username in [("tpu", "pgrigorieva"), ("tusur", "grigorieva.pa"), ("tsu", "alena.elkina"),
                          ("tusur", "elkina.av"), ("tpu", "tgaliev"), ("tusur", "galiev.tr"),
                          ("tpu", "asmirnova"), ("tsu", "anna.smirnova")]:
        log_in(app, org, username)
    assert len(events(app, AuditEventType.ACCOUNT_LINKED)) == 2
    secrets_ = set()
    for org in people.ORGANIZATIONS.values():
        for p in org.people:
            if p.snils:
                secrets_ |= {p.snils, people.dashed_snils(p.snils), p.snils[:9]}
            if p.birth_date:
                secrets_ |= {p.birth_date, people.dotted_date(p.birth_date),
                             people.generalized_time(p.birth_date)[:8]}
    dump = database_dump(app)
    assert "tusur:grigorieva.pa" in dump  # the dump does hold the audit trail
    assert not {s for s in secrets_ if s in dump}


def database_dump(app: Flask) -> str:
    """Every row of every table, as text."""
    engine = app.extensions["campus_id"].engine
    lines = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: {tuple(row)!r}")
    return "\n".join(lines)


def test_a_login_that_changes_and_matches_nothing_reads_once_and_locks_nothing(app: Flask) -> None:
    """The usual login: fingerprints as stored, no other identity matching. One read decides
    it; no match key is locked and nothing about linking is written or audited."""
    first = log_in(app, "tpu", "pgrigorieva")
    assert log_in(app, "tusur", "grigorieva.pa")["sub"] == first["sub"]  # linked: same identity
    log_in(app, "tsu", "alena.elkina")
    audited = len(events(app, AuditEventType.LINK_PROPOSED)) + len(events(app, AuditEventType.ACCOUNT_LINKED))
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(" ".join(sql.split()))

    def past_sqlalchemy(_kind: str, sql: str) -> None:  # the login's own (idp.storage.on_driver)
        seen.append(" ".join(sql.split()))

    engine = app.extensions["campus_id"].engine
    event.listen(engine, "before_cursor_execute", statement)
    driver.OBSERVERS.append(past_sqlalchemy)
    try:
        # Its SNILS matches the tpu account, which is on its own identity: not a match.
        assert log_in(app, "tusur", "grigorieva.pa")["sub"] == first["sub"]
        log_in(app, "tsu", "alena.elkina")
    finally:
        driver.OBSERVERS.remove(past_sqlalchemy)
        event.remove(engine, "before_cursor_execute", statement)
    assert not [s for s in seen if "advisory" in s]
    linking = [s for s in seen if "match_fingerprints" in s or "link_proposals" in s]
    assert len(linking) == 2 and all(s.startswith("SELECT") for s in linking)
    assert len(events(app, AuditEventType.LINK_PROPOSED)) + len(
        events(app, AuditEventType.ACCOUNT_LINKED)) == audited


def test_a_login_whose_values_changed_stores_them_under_the_locks(
        database: str, directories: dict[str, SlapdServer]) -> None:
    """A rule added since the last login (so a fingerprint row is missing) is no settled login:
    the fingerprint is stored, and the match it now makes is proposed."""
    only_snils = {"rules": {"snils": people.LINKING_RULES["snils"]}}
    before = create_app(make_settings(database, directories, linking=only_snils))
    log_in(before, "tsu", "alena.elkina")
    log_in(before, "tusur", "elkina.av")
    before.extensions["campus_id"].engine.dispose()

    app = provider(database, directories)
    try:
        log_in(app, "tsu", "alena.elkina")  # its name_birthdate fingerprint is stored now
        assert proposals(app) == []
        log_in(app, "tusur", "elkina.av")  # and this one finds it
        assert [(p.rule, p.reason) for p in proposals(app)] == [("name_birthdate", "propose_rule")]
        with app.extensions["campus_id"].sessions() as db:
            rules = db.scalars(text("SELECT rule FROM match_fingerprints ORDER BY id")).all()
        assert rules.count("name_birthdate") == 2
    finally:
        app.extensions["campus_id"].engine.dispose()
