"""The Koha connector against the stand-in Koha on 127.0.0.1 (tests/support/koha_standin.py),
which follows Koha's published REST API definition (Koha-Community/Koha
``api/v1/swagger/paths/patrons.yaml`` and ``definitions/patron.yaml``, Koha 24.x) and the
answers of its controllers (``Koha/REST/V1/Patrons.pm``, ``Auth.pm``, ``OAuth.pm``): what a
library would see in its Koha after each grant, re-issue and revoke, and each way Koha refuses
or fails becoming ``NeverWorks`` or ``RetryLater``."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.koha import KohaConnector
from connectors.koha_client import Basic, Session, TokenCache
from connectors.registry import CONNECTOR_TYPES
from tests.support.dripping import dripping_server
from tests.support.koha_standin import KohaStandIn, KohaState, days_from_today

PERSON = {"campus_id": "100000017", "sub": "Zx81", "name": "Иван Сидоров", "email": "ivan@tsu.ru",
          "organizations": ["tsu"], "affiliations": ["student@tsu.ru"], "given_name": "Иван",
          "family_name": "Сидоров", "username": "isidorov@tsu.ru", "home_organization": "tsu",
          "card_number": "2000000045", "previous_card_number": None}
ACTIVE = {"state": "active", "since": "2026-09-01T08:00:00+00:00", "until": None}


def delivery(kind: DeliveryKind = DeliveryKind.GRANT, grant: dict[str, Any] | None = None,
             held: tuple[str, ...] = (), **person: Any) -> Delivery:
    return Delivery(key="job-1", kind=kind, resource="library", grant=grant or ACTIVE,
                    person={**PERSON, **person}, held=held)


@pytest.fixture
def koha() -> Iterator[KohaStandIn]:
    standin = KohaStandIn(KohaState(clients={"campus-id": "s3cret-client"},
                                    users={"campus_api": "s3cret-password"}))
    yield standin
    standin.close()


def connector(koha: KohaStandIn, **options: Any) -> KohaConnector:
    settings: dict[str, Any] = {"url": koha.url, "library_id": "TSU", "category_id": "PT",
                                "category_ids": {"staff": "STAFF", "student": "ST"},
                                "client_id": "campus-id", "client_secret": "s3cret-client",
                                "timeout_s": 5, **options}
    for key in [k for k, v in settings.items() if v is None]:
        del settings[key]
    made = CONNECTOR_TYPES["koha"].create("library", settings)
    assert isinstance(made, KohaConnector)
    return made


def basic(koha: KohaStandIn, password: str = "s3cret-password") -> KohaConnector:
    return connector(koha, client_id=None, client_secret=None, user="campus_api",
                     password=password)


def only_patron(koha: KohaStandIn) -> dict[str, Any]:
    [patron] = koha.state.patrons.values()
    return patron


def test_a_grant_creates_the_patron_a_librarian_can_lend_to(koha: KohaStandIn) -> None:
    connector(koha).deliver(delivery(), deadline_s=5)
    patron = only_patron(koha)
    assert {k: patron[k] for k in ("surname", "firstname", "userid", "cardnumber", "email",
                                   "library_id", "category_id")} == {
        "surname": "Сидоров", "firstname": "Иван", "userid": "100000017",
        "cardnumber": "2000000045", "email": "ivan@tsu.ru", "library_id": "TSU",
        "category_id": "ST"}
    assert patron["expiry_date"] > days_from_today(365 * 4)  # an open grant: years ahead
    assert [s.method for s in koha.state.seen if s.path.endswith("/patrons")] == ["GET", "POST"]


def test_a_repeated_grant_creates_no_second_patron(koha: KohaStandIn) -> None:
    library = connector(koha)
    library.deliver(delivery(), deadline_s=5)
    library.deliver(delivery(), deadline_s=5)
    assert len(koha.state.patrons) == 1
    assert [s.method for s in koha.state.seen if "/patrons" in s.path] == ["GET", "POST", "GET"]


def test_the_lookup_is_exact_not_koha_s_default_substring_match(koha: KohaStandIn) -> None:
    koha.add_patron(surname="Other", userid="1000000170", cardnumber="999")
    connector(koha).deliver(delivery(), deadline_s=5)
    assert sorted(p["userid"] for p in koha.state.patrons.values()) == ["100000017", "1000000170"]
    assert koha.state.patrons[1]["surname"] == "Other"


def test_an_update_changes_what_campus_id_manages_and_keeps_the_rest(koha: KohaStandIn) -> None:
    koha.add_patron(surname="Sidorov", userid="100000017", cardnumber="2000000045",
                    library_id="CPL", phone="+7 3822 000000", staff_notes="pays late")
    connector(koha).deliver(delivery(grant={"state": "grace", "since": "2026-09-01T08:00:00Z",
                                            "until": "2027-01-31T00:00:00+00:00"},
                                     email="ivan.sidorov@tsu.ru"), deadline_s=5)
    patron = only_patron(koha)
    assert (patron["surname"], patron["email"], patron["expiry_date"]) == (
        "Сидоров", "ivan.sidorov@tsu.ru", "2027-01-30")  # the last day the grace covers
    assert (patron["library_id"], patron["phone"], patron["staff_notes"]) == (
        "CPL", "+7 3822 000000", "pays late")  # the library's own choices stay
    [put] = [s for s in koha.state.seen if s.method == "PUT"]
    assert set(put.body) <= {"surname", "firstname", "userid", "cardnumber", "email",
                             "library_id", "category_id", "expiry_date"}


def test_a_reissued_card_replaces_the_old_number(koha: KohaStandIn) -> None:
    library = connector(koha)
    library.deliver(delivery(), deadline_s=5)
    library.deliver(delivery(card_number="2000000128", previous_card_number="2000000045"),
                    deadline_s=5)
    assert only_patron(koha)["cardnumber"] == "2000000128"
    assert not [p for p in koha.state.patrons.values() if p["cardnumber"] == "2000000045"]


def test_a_revoke_expires_the_patron_and_never_deletes(koha: KohaStandIn) -> None:
    library = connector(koha)
    library.deliver(delivery(), deadline_s=5)
    koha.state.checkouts.add(only_patron(koha)["patron_id"])  # a book still out
    revoke = delivery(DeliveryKind.REVOKE, {"state": "ended", "since": "2026-09-01T08:00:00Z",
                                            "until": "2026-12-01T00:00:00Z"})
    library.deliver(revoke, deadline_s=5)
    patron = only_patron(koha)
    assert patron["expiry_date"] < datetime.now(UTC).date().isoformat()
    library.deliver(revoke, deadline_s=5)  # again: already expired, nothing to write
    assert [s.method for s in koha.state.seen if "/patrons" in s.path] == [
        "GET", "POST", "GET", "PUT", "GET"]
    assert only_patron(koha)["userid"] == "100000017"


def test_one_koha_for_two_resources_keeps_the_patron_while_one_is_held(
        koha: KohaStandIn) -> None:
    library = connector(koha)
    library.deliver(delivery(held=("library", "reading_room")), deadline_s=5)
    open_expiry = only_patron(koha)["expiry_date"]
    grace = {"state": "grace", "since": "2026-09-01T08:00:00Z", "until": "2027-01-31T00:00:00Z"}
    library.deliver(delivery(grant=grace, held=("library", "reading_room")), deadline_s=5)
    assert only_patron(koha)["expiry_date"] == open_expiry  # not shortened: reading_room is open
    library.deliver(delivery(DeliveryKind.REVOKE, held=("reading_room",)), deadline_s=5)
    assert only_patron(koha)["expiry_date"] == open_expiry
    library.deliver(delivery(DeliveryKind.REVOKE), deadline_s=5)  # nothing left here
    assert only_patron(koha)["expiry_date"] < datetime.now(UTC).date().isoformat()


def test_no_time_left_or_no_campus_id_sends_nothing(koha: KohaStandIn) -> None:
    with pytest.raises(RetryLater, match="no time was left"):
        connector(koha).deliver(delivery(), deadline_s=0)
    with pytest.raises(NeverWorks, match="no campus id"):
        connector(koha).deliver(delivery(campus_id=None), deadline_s=5)
    assert koha.state.seen == []


def test_a_revoke_for_a_person_koha_never_had_changes_nothing(koha: KohaStandIn) -> None:
    connector(koha).deliver(delivery(DeliveryKind.REVOKE), deadline_s=5)
    assert koha.state.patrons == {}


def test_a_patron_holding_the_userid_is_adopted_not_duplicated(koha: KohaStandIn) -> None:
    koha.add_patron(surname="Sidorov", userid="100000017")
    # made between the connector's lookup and its insert (a librarian, a concurrent attempt)
    koha.state.failures.append((200, []))
    connector(koha).deliver(delivery(), deadline_s=5)
    patron = only_patron(koha)  # Koha answered 400 "Problem with 100000017": adopted
    assert (patron["surname"], patron["cardnumber"]) == ("Сидоров", "2000000045")


def test_a_racing_insert_refused_on_the_userid_key_is_adopted(koha: KohaStandIn) -> None:
    koha.state.race_userid = True
    koha.state.mysql8_keys = True
    koha.add_patron(surname="Sidorov", userid="100000017")
    koha.state.failures.append((200, []))
    connector(koha).deliver(delivery(), deadline_s=5)
    assert only_patron(koha)["cardnumber"] == "2000000045"


@pytest.mark.parametrize("mysql8", [False, True])
def test_a_card_number_held_by_another_patron_is_a_dead_letter(koha: KohaStandIn,
                                                                 mysql8: bool) -> None:
    koha.state.mysql8_keys = mysql8
    koha.add_patron(surname="Petrova", userid="petrova", cardnumber="2000000045")
    with pytest.raises(NeverWorks) as caught:
        connector(koha).deliver(delivery(), deadline_s=5)
    assert "card number 2000000045 belongs to another patron" in str(caught.value)
    assert "HTTP 409: Duplicate ID (conflict: " in str(caught.value)
    assert len(koha.state.patrons) == 1


def test_basic_auth_works_too(koha: KohaStandIn) -> None:
    basic(koha).deliver(delivery(), deadline_s=5)
    assert only_patron(koha)["userid"] == "100000017"
    assert {s.auth for s in koha.state.seen} == {"basic"}


def test_the_token_is_kept_and_fetched_again_once_koha_forgets_it(koha: KohaStandIn) -> None:
    library = connector(koha)
    library.deliver(delivery(), deadline_s=5)
    library.deliver(delivery(email="new@tsu.ru"), deadline_s=5)
    assert [s.path for s in koha.state.seen].count("/api/v1/oauth/token") == 1
    koha.expire_tokens()
    library.deliver(delivery(email="newer@tsu.ru"), deadline_s=5)
    assert [s.path for s in koha.state.seen].count("/api/v1/oauth/token") == 2
    assert only_patron(koha)["email"] == "newer@tsu.ru"


def test_a_fresh_token_refused_too_is_a_dead_letter_after_one_more_try(koha: KohaStandIn) -> None:
    koha.state.tokens_refused = True
    with pytest.raises(NeverWorks, match="HTTP 401: Authentication failure"):
        connector(koha).deliver(delivery(), deadline_s=5)
    assert [s.path for s in koha.state.seen] == [
        "/api/v1/oauth/token", "/api/v1/patrons", "/api/v1/oauth/token", "/api/v1/patrons"]


@pytest.mark.parametrize(("change", "said"), [
    ({"client_secret": "wrong"}, "access_denied"),
    ({"client_id": "nobody"}, "unauthorized_client"),
])
def test_wrong_client_credentials_are_a_dead_letter(koha: KohaStandIn, change: dict[str, str],
                                                    said: str) -> None:
    with pytest.raises(NeverWorks, match=f"HTTP 403: {said}"):
        connector(koha, **change).deliver(delivery(), deadline_s=5)
    assert koha.state.patrons == {}


def test_a_wrong_basic_password_or_basic_switched_off_is_a_dead_letter(koha: KohaStandIn) -> None:
    with pytest.raises(NeverWorks, match="HTTP 403: Invalid password"):
        basic(koha, password="wrong").deliver(delivery(), deadline_s=5)
    koha.state.basic_auth = False
    with pytest.raises(NeverWorks, match="HTTP 401: Basic authentication disabled"):
        basic(koha).deliver(delivery(), deadline_s=5)


def test_client_credentials_switched_off_or_no_permission_are_dead_letters(
        koha: KohaStandIn) -> None:
    koha.state.client_credentials = False
    with pytest.raises(NeverWorks, match="Unimplemented grant type"):
        connector(koha).deliver(delivery(), deadline_s=5)
    koha.state.client_credentials = True
    koha.state.unprivileged.add("campus-id")
    with pytest.raises(NeverWorks, match=r"HTTP 403: Authorization failure\. Missing required"):
        connector(koha).deliver(delivery(), deadline_s=5)


def test_koha_refusing_the_patron_is_a_dead_letter_with_its_words(koha: KohaStandIn) -> None:
    with pytest.raises(NeverWorks, match="HTTP 400: Given category_id does not exist"):
        connector(koha, category_id="NOPE", category_ids={}).deliver(delivery(), deadline_s=5)
    with pytest.raises(NeverWorks, match="HTTP 400: Given library_id does not exist"):
        connector(koha, library_id="NOPE").deliver(delivery(), deadline_s=5)


def test_koha_failing_is_tried_again_later(koha: KohaStandIn) -> None:
    koha.state.failures.append((500, {"error": "Something went wrong, check Koha logs for details."}))
    with pytest.raises(RetryLater, match="HTTP 500: Something went wrong"):
        connector(koha).deliver(delivery(), deadline_s=5)
    koha.state.failures.append((503, {"error": "System is under maintenance."}))
    with pytest.raises(RetryLater, match="HTTP 503"):
        connector(koha).deliver(delivery(), deadline_s=5)
    connector(koha).deliver(delivery(), deadline_s=5)  # back: delivered, once
    assert len(koha.state.patrons) == 1


def test_koha_down_is_tried_again_later() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once it is closed
    options = {"url": f"http://127.0.0.1:{port}", "library_id": "TSU", "category_id": "PT",
               "user": "campus_api", "password": "x", "timeout_s": 5}
    with pytest.raises(RetryLater, match="refused"):
        CONNECTOR_TYPES["koha"].create("library", options).deliver(delivery(), deadline_s=5)


def test_the_stand_in_refuses_what_koha_s_definition_refuses(koha: KohaStandIn) -> None:
    """The connector's bodies pass because they hold only allowed fields, not because the
    stand-in lets anything through."""
    library = connector(koha)
    library.deliver(delivery(), deadline_s=5)
    patron = only_patron(koha)
    session = Session(library.api, Basic("campus_api", "s3cret-password"), TokenCache(),
                      time.monotonic() + 5)
    extra = session.call("PUT", f"/patrons/{patron['patron_id']}",
                         body={"surname": "X", "library_id": "TSU", "category_id": "ST",
                               "campus_id": "100000017"})
    assert (extra.status, extra.body["errors"]) == (
        400, [{"message": "Properties not allowed: campus_id.", "path": "/body"}])
    partial = session.call("PUT", f"/patrons/{patron['patron_id']}",
                           body={"expiry_date": "2020-01-01"})
    assert partial.status == 400
    assert {e["path"] for e in partial.body["errors"]} == {
        "/body/surname", "/body/library_id", "/body/category_id"}
    bad_date = session.call("POST", "/patrons", body={
        "surname": "X", "library_id": "TSU", "category_id": "ST",
        "expiry_date": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert bad_date.body["errors"] == [{"message": "Does not match date format.",
                                        "path": "/body/expiry_date"}]
    unknown = session.call("GET", "/patrons", query={"campus_id": "1"})
    assert (unknown.status, unknown.body) == (
        400, [{"path": "/query/campus_id", "message": "Malformed query string"}])


def test_a_koha_that_drips_its_answer_is_given_up_at_the_deadline() -> None:
    with dripping_server(b"[]", interval_s=0.5) as slow:
        options = {"url": slow.url("").rstrip("/"), "library_id": "TSU", "category_id": "PT",
                   "user": "campus_api", "password": "x", "timeout_s": 60}
        library = CONNECTOR_TYPES["koha"].create("library", options)
        with pytest.raises(RetryLater, match="no answer before the delivery's deadline"):
            library.deliver(delivery(), deadline_s=1)
