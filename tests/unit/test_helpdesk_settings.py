"""Static clients' ``roles`` and ``[linking] primary_precedence``: read when valid, every
mistake a problem naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.settings.load import load_settings
from tests.unit.test_settings import MINIMAL, write

SERVICE = """
[clients.desk]
name = "Helpdesk"
client_secret = "desk-secret-0123456789"
grant_types = ["client_credentials"]
scopes = []
"""


def test_roles_and_precedence_are_read(tmp_path: Path) -> None:
    text = MINIMAL + SERVICE + 'roles = ["helpdesk:tpu", "helpdesk"]\n' + \
        '[linking]\nprimary_precedence = ["tpu"]\n'
    settings = load_settings(write(tmp_path, text), {})
    assert settings.clients["desk"].roles == ("helpdesk:tpu", "helpdesk")
    assert settings.linking.primary_precedence == ("tpu",)


def test_defaults_are_no_roles_and_no_precedence(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL + SERVICE), {})
    assert settings.clients["desk"].roles == () and settings.linking.primary_precedence == ()


@pytest.mark.parametrize(("extra", "expected"), [
    ('roles = ["admin"]\n', "clients.desk.roles: 'admin': unknown role"),
    ('roles = ["helpdesk:tsu"]\n', "clients.desk.roles: 'helpdesk:tsu': 'tsu' is not a configured"),
    ('roles = "helpdesk"\n', "clients.desk.roles: must be a list of strings"),
    ('[linking]\nprimary_precedence = ["tsu"]\n',
     "linking.primary_precedence: 'tsu' is not a configured organization"),
    ('[linking]\nprimary_precedence = ["tpu", "tpu"]\n',
     "linking.primary_precedence: names an organization twice"),
])
def test_mistakes_are_listed_with_their_key(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, MINIMAL + SERVICE + extra), {})
    assert any(p.startswith(expected) for p in error.value.problems), error.value.problems


def test_roles_need_the_client_credentials_grant(tmp_path: Path) -> None:
    text = MINIMAL + """
[clients.rp]
name = "RP"
client_secret = "rp-secret-0123456789abc"
redirect_uris = ["https://rp.example.org/cb"]
roles = ["helpdesk"]
"""
    with pytest.raises(ConfigError, match="only a client of the client_credentials grant has roles"):
        load_settings(write(tmp_path, text), {})
