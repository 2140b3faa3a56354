"""What the Koha connector writes into a patron (names, card, category, expiry) and how it
words Koha's refusals, without a Koha."""

from __future__ import annotations

from datetime import date

from connectors import koha_patron
from connectors.koha import userid_taken
from connectors.koha_client import Reply, describe

TODAY = date(2026, 12, 2)
PERSON = {"campus_id": "100000017", "name": "Иван Сидоров", "email": "ivan@tsu.ru",
          "given_name": "Иван", "family_name": "Сидоров", "card_number": "2000000045",
          "affiliations": ["student@tsu.ru"]}


def test_a_new_patron_has_names_card_and_login() -> None:
    assert koha_patron.wanted(PERSON, library_id="TSU", category_id="ST",
                              expiry_date="2031-12-02") == {
        "surname": "Сидоров", "firstname": "Иван", "userid": "100000017",
        "cardnumber": "2000000045", "email": "ivan@tsu.ru", "library_id": "TSU",
        "category_id": "ST", "expiry_date": "2031-12-02"}


def test_what_is_unknown_is_left_out_not_blanked() -> None:
    body = koha_patron.wanted({"campus_id": "100000017", "name": "Sidorov", "email": None,
                               "given_name": "Ivan", "card_number": None},
                              library_id="TSU", category_id="PT", expiry_date="2031-12-02")
    assert body == {"surname": "Sidorov", "userid": "100000017", "library_id": "TSU",
                    "category_id": "PT", "expiry_date": "2031-12-02"}
    assert koha_patron.wanted({"campus_id": "100000017"}, library_id="TSU", category_id="PT",
                              expiry_date="2031-12-02")["surname"] == "100000017"


def test_the_category_follows_the_configured_order_of_affiliations() -> None:
    table = {"staff": "STAFF", "student": "ST"}
    assert koha_patron.category_for(["student@tsu.ru"], "PT", table) == "ST"
    assert koha_patron.category_for(["student@tsu.ru", "staff@tpu.ru"], "PT", table) == "STAFF"
    assert koha_patron.category_for(["member@tsu.ru"], "PT", table) == "PT"
    assert koha_patron.category_for([], "PT", {}) == "PT"


def test_expiry_is_the_last_day_of_the_grant_or_years_ahead() -> None:
    assert koha_patron.expiry_for_grant({"until": "2027-01-31T00:00:00+00:00"}, TODAY, 1826) \
        == "2027-01-30"
    assert koha_patron.expiry_for_grant({"until": "2027-01-31T12:00:00+07:00"}, TODAY, 1826) \
        == "2027-01-31"
    assert koha_patron.expiry_for_grant({"until": None}, TODAY, 1826) == "2031-12-02"


def test_an_update_keeps_the_library_s_home_branch_and_skips_no_change() -> None:
    want = koha_patron.wanted(PERSON, library_id="TSU", category_id="ST",
                              expiry_date="2031-12-02")
    found = {**want, "patron_id": 7, "library_id": "CPL", "phone": "123"}
    assert koha_patron.update_of(found, want) is None
    moved = koha_patron.update_of({**found, "cardnumber": "2000000012"}, want)
    assert moved is not None and moved["cardnumber"] == "2000000045"
    assert moved["library_id"] == "CPL" and "phone" not in moved


def test_a_revoke_sets_expiry_in_the_past_once() -> None:
    found = {"patron_id": 7, "surname": "Сидоров", "library_id": "CPL", "category_id": "ST",
             "expiry_date": "2031-12-02", "email": "ivan@tsu.ru"}
    assert koha_patron.revoked(found, TODAY) == {
        "surname": "Сидоров", "library_id": "CPL", "category_id": "ST",
        "expiry_date": "2026-11-30"}
    assert koha_patron.revoked({**found, "expiry_date": "2026-11-30"}, TODAY) is None
    assert koha_patron.revoked({**found, "expiry_date": "2019-05-01"}, TODAY) is None


def test_koha_s_error_shapes_are_worded_for_the_dead_letter_list() -> None:
    assert describe(Reply(409, {"error": "Duplicate ID", "conflict": "borrowers.cardnumber"},
                          "")) == "HTTP 409: Duplicate ID (conflict: borrowers.cardnumber)"
    assert describe(Reply(400, {"errors": [{"message": "Properties not allowed: x.",
                                            "path": "/body"}], "status": 400}, "")) \
        == "HTTP 400: /body Properties not allowed: x."
    assert describe(Reply(400, [{"path": "/query/x", "message": "Malformed query string"}],
                          "")) == "HTTP 400: /query/x Malformed query string"
    assert describe(Reply(502, None, "<html>Bad gateway</html>")) \
        == "HTTP 502: <html>Bad gateway</html>"


def test_a_taken_userid_is_recognised_in_both_of_koha_s_words() -> None:
    assert userid_taken(Reply(400, {"error": "Problem with 100000017"}, ""), "100000017")
    assert userid_taken(Reply(409, {"error": "Duplicate ID", "conflict": "userid"}, ""), "1")
    assert userid_taken(Reply(409, {"error": "Duplicate ID", "conflict": "borrowers.userid"},
                              ""), "1")
    assert not userid_taken(Reply(409, {"error": "Duplicate ID", "conflict": "cardnumber"}, ""),
                            "1")
    assert not userid_taken(Reply(400, {"error": "Given library_id does not exist"}, ""), "1")
