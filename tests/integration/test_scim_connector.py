"""The scim connector against a real SCIM 2.0 server (``scim2-server``, run by the tests on a port
of its own), following RFC 7643 (the User resource, section 4.1, and the enterprise extension,
section 4.3) and RFC 7644 (creating, section 3.3; filtering by externalId, section 3.4.2.2;
paging, section 3.4.2.4; replacing with PUT, section 3.5.1; PATCH of ``active``, section 3.5.2;
errors, section 3.12). What is asserted is what the library system ends up holding, read back
over SCIM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors import scim
from connectors.base import Delivery, DeliveryKind, ListingConnector, NeverWorks, RetryLater
from connectors.registry import CONNECTOR_TYPES
from connectors.scim_resource import ENTERPRISE_SCHEMA, USER_SCHEMA
from demo.slapd import free_port
from tests.support.scim_server import TOKEN, ScimServer

ANNA = {"campus_id": "123456782", "sub": "Zx81", "name": "Анна Смирнова",
        "email": "anna@tpu.ru", "organizations": ["tpu"], "affiliations": ["student@tpu.ru"],
        "given_name": "Анна", "family_name": "Смирнова", "username": "anna@tpu.ru",
        "home_organization": "tpu", "card_number": "9001234567897",
        "previous_card_number": None}
ACTIVE = {"state": "active", "since": "2026-09-01T08:00:00+00:00", "until": None}
ENDED = {"state": "ended", "since": "2026-09-01T08:00:00+00:00", "until": "2026-12-01T00:00:00+00:00"}


@pytest.fixture(scope="session")
def server() -> Iterator[ScimServer]:
    running = ScimServer().start()
    yield running
    running.stop()


@pytest.fixture
def base(server: ScimServer) -> str:
    return server.tenant()


def connector(url: str, token: str = TOKEN, timeout_s: float = 5) -> scim.ScimConnector:
    made = CONNECTOR_TYPES["scim"].create("library_scim", {
        "url": url, "token": token, "timeout_s": timeout_s, "allow_insecure": True,
        "organization_names": {"tpu": "Tomsk Polytechnic University"}})
    assert isinstance(made, scim.ScimConnector)
    return made


def grant(person: dict[str, Any] = ANNA, held: tuple[str, ...] = ("library",)) -> Delivery:
    return Delivery(key="job-1", kind=DeliveryKind.GRANT, resource="library", grant=ACTIVE,
                    person=person, held=held)


def revoke(person: dict[str, Any] = ANNA, held: tuple[str, ...] = ()) -> Delivery:
    return Delivery(key="job-2", kind=DeliveryKind.REVOKE, resource="library", grant=ENDED,
                    person=person, held=held)


def only_user(server: ScimServer, base: str) -> dict[str, Any]:
    [user] = server.users(base)
    return user


def test_a_grant_creates_the_user_with_every_attribute(server: ScimServer, base: str) -> None:
    connector(base).deliver(grant(), deadline_s=5)
    user = only_user(server, base)
    assert user["schemas"] == [USER_SCHEMA, ENTERPRISE_SCHEMA]
    assert (user["externalId"], user["userName"], user["active"]) == ("123456782", "123456782", True)
    assert user["name"] == {"givenName": "Анна", "familyName": "Смирнова",
                            "formatted": "Анна Смирнова"}
    assert user["displayName"] == "Анна Смирнова"
    assert user["emails"] == [{"value": "anna@tpu.ru", "type": "work", "primary": True}]
    assert user[ENTERPRISE_SCHEMA] == {"employeeNumber": "9001234567897",
                                       "organization": "Tomsk Polytechnic University"}


def test_a_repeated_grant_updates_and_never_duplicates(server: ScimServer, base: str) -> None:
    library = connector(base)
    for _ in range(3):
        library.deliver(grant(), deadline_s=5)
    user = only_user(server, base)
    assert user["externalId"] == "123456782" and user["active"] is True


def test_a_grant_after_a_change_updates_the_user(server: ScimServer, base: str) -> None:
    library = connector(base)
    library.deliver(grant(), deadline_s=5)
    first_id = only_user(server, base)["id"]
    married = {**ANNA, "family_name": "Иванова", "name": "Анна Иванова",
               "email": "anna.ivanova@tpu.ru", "card_number": "9001234567806",
               "previous_card_number": "9001234567897", "home_organization": "tsu"}
    library.deliver(grant(married), deadline_s=5)
    user = only_user(server, base)
    assert user["id"] == first_id
    assert user["name"]["familyName"] == "Иванова"
    assert user["emails"] == [{"value": "anna.ivanova@tpu.ru", "type": "work", "primary": True}]
    # No display name configured for tsu: its id is sent.
    assert user[ENTERPRISE_SCHEMA] == {"employeeNumber": "9001234567806", "organization": "tsu"}


def test_no_card_yet_sends_no_employee_number(server: ScimServer, base: str) -> None:
    connector(base).deliver(grant({**ANNA, "card_number": None}), deadline_s=5)
    assert only_user(server, base)[ENTERPRISE_SCHEMA] == {
        "organization": "Tomsk Polytechnic University"}


def test_a_revoke_deactivates_and_a_new_grant_reactivates(server: ScimServer, base: str) -> None:
    library = connector(base)
    library.deliver(grant(), deadline_s=5)
    library.deliver(revoke(), deadline_s=5)
    assert only_user(server, base)["active"] is False
    library.deliver(revoke(), deadline_s=5)  # again: still inactive, no error
    assert only_user(server, base)["active"] is False
    library.deliver(grant(), deadline_s=5)
    assert only_user(server, base)["active"] is True


def test_a_revoke_of_someone_unknown_is_fine(server: ScimServer, base: str) -> None:
    connector(base).deliver(revoke(), deadline_s=5)
    assert server.users(base) == []


def test_a_revoke_while_another_resource_is_held_keeps_the_user_active(
        server: ScimServer, base: str) -> None:
    library = connector(base)
    library.deliver(grant(), deadline_s=5)
    library.deliver(revoke(held=("reading_room",)), deadline_s=5)
    assert only_user(server, base)["active"] is True


def test_a_409_adopts_the_user_the_library_made_with_the_campus_id(
        server: ScimServer, base: str) -> None:
    made = server.create(base, {"schemas": [USER_SCHEMA], "userName": "123456782",
                                "name": {"familyName": "Smirnova"}, "active": False})
    connector(base).deliver(grant(), deadline_s=5)
    user = only_user(server, base)
    assert user["id"] == made["id"]  # adopted, not duplicated
    assert (user["externalId"], user["active"]) == ("123456782", True)
    assert user["name"]["familyName"] == "Смирнова"


def test_a_user_made_by_hand_with_the_same_external_id_is_updated(
        server: ScimServer, base: str) -> None:
    made = server.create(base, {"schemas": [USER_SCHEMA], "userName": "123456782",
                                "externalId": "123456782", "active": True})
    connector(base).deliver(grant(), deadline_s=5)
    user = only_user(server, base)
    assert user["id"] == made["id"] and user["emails"][0]["value"] == "anna@tpu.ru"


def test_a_user_name_held_under_another_external_id_is_not_taken(
        server: ScimServer, base: str) -> None:
    server.create(base, {"schemas": [USER_SCHEMA], "userName": "123456782",
                         "externalId": "koha-77"})
    with pytest.raises(NeverWorks, match="userName 123456782 is held by a User with "
                                         "externalId 'koha-77', not adopted"):
        connector(base).deliver(grant(), deadline_s=5)
    assert [u["externalId"] for u in server.users(base)] == ["koha-77"]


def test_two_users_with_the_campus_id_are_not_guessed_between(
        server: ScimServer, base: str) -> None:
    for user_name in ("a", "b"):  # externalId need not be unique (RFC 7643 section 3.1)
        server.create(base, {"schemas": [USER_SCHEMA], "userName": user_name,
                             "externalId": "123456782"})
    with pytest.raises(NeverWorks, match="2 Users have externalId 123456782; merge them"):
        connector(base).deliver(grant(), deadline_s=5)


def test_a_wrong_token_never_works_and_says_why(base: str) -> None:
    with pytest.raises(NeverWorks) as caught:
        connector(base, token="wrong-token").deliver(grant(), deadline_s=5)
    assert str(caught.value) == ("find by externalId: HTTP 401: Authorization failure. "
                                 "The authorization header is invalid or missing")
    assert "wrong-token" not in str(caught.value)


def test_a_server_that_is_down_is_retried_later() -> None:
    down = f"http://127.0.0.1:{free_port()}/scim/v2"
    with pytest.raises(RetryLater, match=r"^find by externalId: connection refused$"):
        connector(down).deliver(grant(), deadline_s=5)
    with pytest.raises(RetryLater, match=r"^list: connection refused$"):
        list(connector(down).list_granted("library"))


def test_list_granted_pages_through_the_active_users(
        server: ScimServer, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scim, "PAGE_SIZE", 3)  # 8 active Users: three pages
    library = connector(base)
    assert isinstance(library, ListingConnector)
    ids = [f"10000000{i}" for i in range(10)]
    for campus_id in ids:
        library.deliver(grant({**ANNA, "campus_id": campus_id}), deadline_s=5)
    for campus_id in ids[8:]:
        library.deliver(revoke({**ANNA, "campus_id": campus_id}), deadline_s=5)
    server.create(base, {"schemas": [USER_SCHEMA], "userName": "librarian", "active": True})
    assert sorted(library.list_granted("library")) == ids[:8]


def test_a_409_after_another_attempt_created_the_user_meanwhile_adopts_it(
        server: ScimServer, base: str) -> None:
    """Two attempts of one job (a worker presumed dead and its successor): the other one
    creates the User between this one's search and its POST, which the server answers 409."""

    class Raced(scim.ScimConnector):
        raced = False

        def _find(self, attribute: str, value: str, deadline: float) -> dict[str, Any] | None:
            found = super()._find(attribute, value, deadline)
            if not self.raced:
                self.raced = True
                server.create(base, {"schemas": [USER_SCHEMA], "userName": "123456782",
                                     "externalId": "123456782", "active": True})
            return found

    raced = Raced("library_scim", base, TOKEN, 5, {})
    raced.deliver(grant(), deadline_s=5)
    assert raced.raced
    user = only_user(server, base)
    assert user["emails"][0]["value"] == "anna@tpu.ru"  # the PUT after the 409 went through
