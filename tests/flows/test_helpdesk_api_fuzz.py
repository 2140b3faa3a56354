"""The helpdesk API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends,
valid or not, the answer is never a 5xx, and its status, content type and body are the ones
the document declares. Bounded (a few dozen examples per operation, derandomized) to stay
fast; SQLite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.storage.base import make_engine
from idp.storage.linking import LinkProposal, ProposalReason
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings
from tests.flows.test_helpdesk_api import HELPDESK, helpdesk_clients, token_of

# Per operation; IDP_FUZZ_EXAMPLES=500 for a deeper run by hand.
EXAMPLES = int(os.environ.get("IDP_FUZZ_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory,
               directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """Two people with an account each and a pending proposal between them, so that some
    generated requests meet real identities."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'idp.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(url, directories, clients=helpdesk_clients()))
    with app.extensions["campus_id"].sessions() as db:
        accounts = [upsert_account(db, DirectoryAccount(org, f"{org}-{name}", name, {
            "given_name": ("Анна",), "family_name": ("Смирнова",), "email": (f"{name}@{org}.ru",)}))
            for org, name in (("tpu", "asmirnova"), ("tsu", "anna.smirnova"))]
        db.add(LinkProposal(rule="name_birthdate", reason=ProposalReason.PROPOSE_RULE.value,
                            account_id=accounts[1].id, identity_id=accounts[1].identity_id,
                            candidate_identity_id=accounts[0].identity_id))
        db.commit()
    yield app
    app.extensions["campus_id"].engine.dispose()


def fuzz(app: Flask, headers: dict[str, str], examples: int) -> list[str]:
    """Every operation of the document, ``examples`` generated requests each (positive and
    negative data); the labels of the operations exercised."""
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    labels = []
    for result in api.get_all_operations():
        operation = result.ok()

        @settings(max_examples=examples, deadline=None, database=None, derandomize=EXAMPLES <= 30,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
        labels.append(operation.label)
    return labels


def test_no_5xx_and_responses_match_the_document(fuzzed_app: Flask) -> None:
    token = token_of(fuzzed_app.test_client(), HELPDESK)
    labels = fuzz(fuzzed_app, {"Authorization": f"Bearer {token}"}, EXAMPLES)
    document = fuzzed_app.test_client().get("/api/v1/openapi.json").json
    methods = {"get", "post", "put", "patch", "delete"}
    operations = sum(1 for item in document["paths"].values() for method in item if method in methods)
    assert len(labels) == operations  # every operation of the document, helpdesk and clients alike
    assert "POST /identities/{sub}/accounts" in labels and "PATCH /clients/{client_id}" in labels


def test_without_a_token_every_operation_is_a_documented_401(fuzzed_app: Flask) -> None:
    fuzz(fuzzed_app, {}, 5)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/api/v1/proposals/-5/approve", 404),  # no route: no CSRF page, the API's JSON
    ("POST", "/api/v1/proposals/99999999999999999999/reject", 404),  # beyond any id
    ("PUT", "/api/v1/identities", 405),
    ("GET", "/api/v1/nothing-here", 404),
])
def test_what_the_fuzzer_found_answers_in_the_apis_error_shape(
        fuzzed_app: Flask, method: str, path: str, status: int) -> None:
    api = fuzzed_app.test_client()
    token = token_of(api, HELPDESK)
    response = api.open(path, method=method, json={"reason": "x"},
                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(response.json) == {"error", "message"}
