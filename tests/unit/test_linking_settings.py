"""``[linking.rules.NAME]``: valid rules are read, and every mistake is a problem naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.linking.fingerprints import NORMALIZERS
from idp.settings import LinkAction, MatchClaim
from idp.settings.load import load_settings
from tests.unit.test_settings import MINIMAL, write


def test_rules_are_read_with_their_claims_and_action(tmp_path: Path) -> None:
    text = MINIMAL + """
[linking.rules.snils]
match = ["snils"]
action = "link"
[linking.rules.name_birthdate]
match = ["family_name", "given_name", "birthdate"]
action = "propose"
"""
    rules = load_settings(write(tmp_path, text), {}).linking.rules
    assert rules["snils"].match == (MatchClaim.SNILS,) and rules["snils"].action is LinkAction.LINK
    assert rules["name_birthdate"].match == (
        MatchClaim.FAMILY_NAME, MatchClaim.GIVEN_NAME, MatchClaim.BIRTHDATE)
    assert rules["name_birthdate"].action is LinkAction.PROPOSE


def test_no_linking_table_means_no_rules(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, MINIMAL), {}).linking.rules == {}


def test_an_environment_override_can_soften_a_rule(tmp_path: Path) -> None:
    text = MINIMAL + '[linking.rules.snils]\nmatch = ["snils"]\naction = "link"\n'
    env = {"IDP__LINKING__RULES__SNILS__ACTION": "propose"}
    assert load_settings(write(tmp_path, text), env).linking.rules["snils"].action is LinkAction.PROPOSE


def test_every_mistake_in_a_rule_names_its_key(tmp_path: Path) -> None:
    text = MINIMAL + """
[linking.rules.snils]
match = ["snills", "birthdate", "birthdate"]
action = "merge"
colour = "red"
[linking.rules.empty]
match = []
action = "propose"
[linking.rules.Bad-Name]
match = ["snils"]
action = "link"
[linking.rules.noaction]
match = ["snils"]
"""
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), {})
    assert err.value.problems == [
        "linking.rules.snils.match: 'snills' is not a claim linking can compare (one of 'snils', "
        "'birthdate', 'family_name', 'given_name', 'middle_name')",
        "linking.rules.snils.match: 'birthdate' is named twice",
        "linking.rules.snils.action: must be one of 'link', 'propose', not 'merge'",
        "linking.rules.snils.colour: is not a known setting",
        "linking.rules.empty.match: must not be empty",
        "linking.rules.Bad-Name: a rule name is lower-case letters, digits, '-' or '_'",
        "linking.rules.noaction.action: is required",
    ]


def test_every_claim_a_rule_may_name_has_a_normalisation() -> None:
    assert set(NORMALIZERS) == set(MatchClaim)
