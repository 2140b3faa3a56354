"""Every refusal the console's services can give (each ``public=`` text of their modules, read
from the source) has its Russian text: a Russian page never shows a service's English."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from idp.errors import Conflict, IdpError, InvalidInput, NotFound
from idp.web.helpdesk import texts_actions
from idp.web.helpdesk.refusals import KNOWN, refusal
from idp.web.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("idp/linking/merge.py", "idp/linking/split.py", "idp/linking/undo.py",
            "idp/identity/lock.py", "idp/provisioning/card_reissue.py",
            "idp/provisioning/deliveries.py")


def public_texts(path: Path) -> list[str]:
    """Each ``public=`` text of the module, its ``{values}`` written as ``1``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg != "public":
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append(value.value)
            elif isinstance(value, ast.JoinedStr):
                found.append("".join(part.value if isinstance(part, ast.Constant) else "1"
                                     for part in value.values))
            else:
                raise AssertionError(f"{path}: a public text that is not a string: {ast.dump(value)}")
    return found


ALL = [(service, text) for service in SERVICES for text in public_texts(ROOT / service)]


@pytest.fixture(autouse=True)
def texts() -> None:
    texts_actions.register()


@pytest.mark.parametrize(("service", "text"), ALL, ids=[t[:40] for _, t in ALL])
def test_each_refusal_of_the_services_has_its_russian_text(service: str, text: str) -> None:
    assert any(pattern.fullmatch(text) for pattern, _key in KNOWN), f"{service}: {text!r}"
    with Flask(__name__).test_request_context("/?lang=ru"):
        shown = refusal(Conflict("detail", public=text))
    assert shown != text and not shown.startswith("helpdesk.error."), shown


def test_every_known_refusal_has_a_text_in_both_lists() -> None:
    assert {f"helpdesk.error.{key}" for _pattern, key in KNOWN} <= set(MESSAGES["ru"])


def test_the_values_of_a_refusal_stay_and_english_pages_show_it_as_it_is() -> None:
    public = "tsu:petrov is already linked here."
    with Flask(__name__).test_request_context("/?lang=ru"):
        assert refusal(Conflict("x", public=public)) == "tsu:petrov уже привязана здесь."
        assert refusal(NotFound("x", public="No delivery job 42.")) == "Задания доставки 42 нет."
        assert refusal(Conflict("x", public="Something new.")) == \
            "Изменение противоречит текущему состоянию."
        assert refusal(InvalidInput("x", public="New.")) == "Поле заполнено неверно."
        assert refusal(IdpError("x")) == "Что-то пошло не так. Попробуйте позже."
    with Flask(__name__).test_request_context("/?lang=en"):
        assert refusal(Conflict("x", public=public)) == public
