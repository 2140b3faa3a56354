"""``[server] engine``: granian unless the configuration says gunicorn; anything else is a
problem named at start, like every other wrong setting."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from idp.cli import main
from idp.settings.load import parse_settings
from idp.settings.model import ServerEngine, Settings

ORGANIZATIONS = {"tpu": {"name": "TPU", "scope": "tpu.ru", "directory": {
    "uris": ["ldaps://ldap.tpu.ru"], "base_dn": "dc=tpu,dc=ru"}}}


def parse(**server: Any) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    data = {"server": {"issuer": "https://id.example.org", "secret_key": "k" * 40, **server},
            "organizations": ORGANIZATIONS}
    return parse_settings(data, problems), problems


def test_granian_is_the_default_and_gunicorn_the_other_choice() -> None:
    settings, problems = parse()
    assert not problems and settings.server.engine is ServerEngine.GRANIAN
    settings, problems = parse(engine="gunicorn")
    assert not problems and settings.server.engine is ServerEngine.GUNICORN


def test_another_engine_is_refused_with_the_choices() -> None:
    _, problems = parse(engine="uwsgi")
    assert len(problems) == 1
    assert "server.engine" in problems[0] and "'granian', 'gunicorn'" in problems[0], problems


def test_serve_offers_the_same_choice_on_the_command_line() -> None:
    result = CliRunner().invoke(main, ["serve", "--engine", "uwsgi"])
    assert result.exit_code == 2 and "'granian'" in result.output and "'gunicorn'" in result.output
