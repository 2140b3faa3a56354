"""A name's Latin skeleton: every usual romanization of a Russian name and the Cyrillic name
itself give one skeleton, so a helpdesk typing Latin letters finds the Cyrillic name; search
terms and query words are normalised the same way."""

from __future__ import annotations

import pytest

from idp.linking.transliterate import romanize, skeleton
from idp.storage.search import normalize, spellings, terms_of


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("Ёлкина", ["Elkina", "Yolkina", "Jolkina", "ELKINA"]),
    ("Алёна", ["Alena", "Alyona", "Aljona"]),
    ("Худяков", ["Khudyakov", "Hudiakov", "Khudiakov"]),
    ("Юлия", ["Yuliya", "Iuliia", "Julija", "Yulia"]),
    ("Щукин", ["Shchukin", "Schukin"]),
    ("Цветкова", ["Tsvetkova", "Tcvetkova", "Czvetkova"]),
    ("Василий", ["Vasiliy", "Vasilii", "Vasilij", "Vasily"]),
    ("Анатольевич", ["Anatolyevich", "Anatolievich", "Anatolevich"]),
    ("Евгений", ["Evgeniy", "Yevgeny", "Evgenii"]),
    ("Пётр", ["Petr", "Pyotr"]),
    ("Ксения", ["Kseniya", "Xenia", "Ksenia"]),
    ("Наталья", ["Natalya", "Natalia", "Natal'ya"]),
    ("Быков", ["Bykov", "Bikov"]),
    ("Кирилл", ["Kirill", "Kiril"]),
    ("Максим", ["Maksim", "Maxim"]),
    ("Александр", ["Aleksandr", "Alexandr"]),
])
def test_every_romanization_gives_the_cyrillic_names_skeleton(cyrillic: str, latin: list[str]) -> None:
    for spelling in latin:
        assert skeleton(spelling) == skeleton(cyrillic), spelling


def test_different_names_stay_apart() -> None:
    assert skeleton("Иванова") != skeleton("Иванов")
    assert skeleton("Смирнова") != skeleton("Петрова")
    assert skeleton("Жуков") != skeleton("Зуков")


def test_romanization_is_icao_like() -> None:
    assert romanize("ёлкина алёна") == "elkina alena"
    assert romanize("щукин юлия хабибуллин") == "shchukin iuliia khabibullin"
    assert romanize("anna 42") == "anna 42"


def test_skeleton_keeps_letters_and_digits_only() -> None:
    assert skeleton("О'Коннор-Смит") == skeleton("OKonnorSmit")
    assert skeleton("Émile") == skeleton("Emile") == "emile"
    assert skeleton("%_") == ""


def test_normalisation_ignores_case_yo_and_spacing() -> None:
    assert normalize("  ЁЛКИНА   Алёна ") == "елкина алена"


def test_terms_hold_each_name_word_and_its_skeleton() -> None:
    found = terms_of("elkina.a", {"family_name": ["Ёлкина"], "given_name": ["Алёна"],
                                 "email": ["A.Elkina@tsu.ru"]})
    assert found == ["elkina.a", "a.elkina@tsu.ru", "a.elkina", "tsu.ru",
                     "алена", "~alena", "елкина", "~elkina"]


def test_a_query_word_is_read_as_typed_and_as_a_skeleton_when_it_is_a_name() -> None:
    assert spellings("elkina") == ["elkina", "~elkina"]
    assert spellings("елкина") == ["елкина", "~elkina"]
    assert spellings("petr%") == ["petr%"]  # no wildcard, no skeleton
    assert spellings("a.elkina@tsu.ru") == ["a.elkina@tsu.ru"]
