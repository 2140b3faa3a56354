"""deploy/: the Grafana dashboard and the Prometheus rules name only metrics the app exports
(read from a real scrape) or rules recording.yml records, the dashboard shows every exported
metric, and promtool (Debian's, when installed) accepts the rules and lints the scrape."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
RECORDING = DEPLOY / "prometheus" / "recording.yml"
DASHBOARD = DEPLOY / "grafana" / "campus-id.json"
TOKEN = "deploy-test-token-0123456789abcdef0123"
WEBHOOK_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
PROMETHEUS_OWN = {"up"}  # series Prometheus makes for every target
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
SERIES_OF = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
             "gauge": ("",), "summary": ("", "_sum", "_count"), "untyped": ("",)}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory,
            directories: dict[str, SlapdServer]) -> Iterator[str]:
    """The text of /metrics of an app that has answered nothing yet: every metric is there,
    labelled ones by their HELP and TYPE lines."""
    url = f"sqlite:///{tmp_path_factory.mktemp('deploy') / 'idp.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(url, directories, metrics={"enabled": True, "token": TOKEN},
                                   connectors={"library": {"type": "webhook", "url":
                                                           "https://library.example.org/hook",
                                                           "secret": WEBHOOK_SECRET}}))
    try:
        response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        yield response.get_data(as_text=True)
    finally:
        app.extensions["campus_id"].engine.dispose()


def exported_series(text: str) -> dict[str, str]:
    """Each series name a query may use, to the name of its metric."""
    names = {}
    for family in text_string_to_metric_families(text):
        for suffix in SERIES_OF[family.type]:
            names[family.name + suffix] = family.name
    return names


def recorded() -> dict[str, str]:
    """Each recording rule's name, to its expression."""
    rules = yaml.safe_load(RECORDING.read_text(encoding="utf-8"))
    return {rule["record"]: str(rule["expr"]) for group in rules["groups"]
            for rule in group["rules"]}


def rule_expressions() -> list[str]:
    found: list[str] = []
    for path in (RECORDING, ALERTS):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            found.extend(str(rule["expr"]) for rule in group["rules"])
    return found


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(board["panels"])
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if variable["type"] == "query":
            found.append(re.sub(r"^label_values\((.+),\s*\w+\)$", r"\1", str(query)))
    return found


def names_in(expr: str) -> set[str]:
    """The series names a PromQL expression reads: what is left once strings, label
    matchers, ranges, Grafana variables, grouping clauses, functions and keywords are gone."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\{?\w+\}?", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    words = re.findall(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text)
    return {word for word, call in words if not call and word.lower() not in KEYWORDS}


def test_the_names_parse_from_what_queries_look_like() -> None:
    assert names_in('sum by (organization, le) (rate(idp_x_bucket{a="b",c=~"$org"}[$__rate_interval]))'
                    ' / on (organization) group_left idp_y > 0.5 and idp_z offset 1h') == {
        "idp_x_bucket", "idp_y", "idp_z"}


def test_every_name_deploy_uses_is_exported(scraped: str) -> None:
    known = set(exported_series(scraped)) | set(recorded()) | PROMETHEUS_OWN
    expressions = rule_expressions() + dashboard_expressions()
    assert len(expressions) > 20
    unknown = {name: expr for expr in expressions for name in names_in(expr) if name not in known}
    assert not unknown, unknown


def test_the_dashboard_shows_every_exported_metric(scraped: str) -> None:
    series = exported_series(scraped)
    shown = {series.get(name, name) for expr in dashboard_expressions() for name in names_in(expr)}
    for rule, expr in recorded().items():  # a panel showing a recording rule shows what it reads
        if rule in shown:
            shown |= {series.get(name, name) for name in names_in(expr)}
    assert set(series.values()) - shown == set()


def test_the_scrape_names_the_configured_connector(scraped: str) -> None:
    assert 'idp_delivery_queue_jobs{connector="library",state="pending"} 0.0' in scraped
    assert "idp_delivery_queue_up 1.0" in scraped


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed "
                    "(scripts/install-system.sh installs it)")
def test_promtool_accepts_the_rules_and_the_scrape(scraped: str) -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RECORDING), str(ALERTS)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    linted = subprocess.run(["promtool", "check", "metrics"], input=scraped,
                            capture_output=True, text=True, timeout=60, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr
