"""The demo's three member organizations and their people, for ``make demo`` and the tests.

* ``tpu`` (Tomsk Polytechnic University, ``dc=tpu,dc=ru``): OpenLDAP, inetOrgPerson + eduPerson,
  affiliations already in eduPerson's vocabulary.
* ``tsu`` (Tomsk State University, ``dc=tsu,dc=ru``): OpenLDAP, affiliations as Russian words in
  ``employeeType`` ("Студент", "Сотрудник"...), translated by the config's ``affiliation_map``.
* ``tusur`` (TUSUR, ``dc=tusur,dc=ru``): Active-Directory-like (sAMAccountName,
  userPrincipalName, objectGUID, userAccountControl; DNs are Cyrillic ``cn=Фамилия Имя
  Отчество``). ``baranov.ip`` is disabled (userAccountControl 514).

Everyone's password is ``Passw0rd-<username>`` except the user ``demo`` of each organization,
whose password is ``demo``. :func:`roster` lists them all for the README. The patronymic lives
in ``campusMiddleName`` (``demo/schema/campus.schema``; AD's own ``middleName`` for tusur).
Each directory writes the SNILS and the birth date its own way, as real ones do: tpu
``campusSnils`` ``11223344595`` and ``campusBirthDate`` ``1994-09-30``; tsu the same SNILS
attribute and ``30.09.1994``; tusur ``employeeID`` ``112-233-445 95`` and ``campusDateOfBirth``
``19940930000000Z``. People with accounts at two or three organizations (their notes say
which) show linking by rule (:data:`LINKING_RULES`): one campus identity, one ``sub``.
A few people hold eduPersonEntitlement values (tpu ``demo``, ``asmirnova``, ``ikuznetsov``;
tusur ``sidorov.av``): the library's ``urn:mace:dir:entitlement:common-lib-terms``, and a lab.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import idp.directory
from demo.slapd import Entry, SlapdServer, ssha

SCHEMA_DIR = Path(__file__).parent / "schema"
EDUPERSON_SCHEMA = Path(idp.directory.__file__).parent / "schema" / "eduperson.schema"
CAMPUS_SCHEMA = SCHEMA_DIR / "campus.schema"
AD_LIKE_SCHEMA = SCHEMA_DIR / "ad-like.schema"
DEMO_PASSWORD = "demo"
_GUID_NAMESPACE = uuid.UUID("6f1d2a52-5c3e-4f47-9a43-0b6f3c0e7d10")  # fixed: stable demo GUIDs


def snils(first_nine: str) -> str:
    """A SNILS with its check number (weights 9..1, modulo 101), as 11 digits."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    check = total if total < 100 else (total % 101) % 100
    return f"{first_nine}{check:02d}"


def dashed_snils(digits: str) -> str:
    """How HR systems print a SNILS: ``123-456-789 01``."""
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


def dotted_date(iso: str) -> str:
    """``DD.MM.YYYY``, as Russian records write dates."""
    year, month, day = iso.split("-")
    return f"{day}.{month}.{year}"


def generalized_time(iso: str) -> str:
    """LDAP GeneralizedTime at midnight UTC: ``19940930000000Z``."""
    return iso.replace("-", "") + "000000Z"


def _as_is(value: str) -> str:
    return value


SHARED_SNILS = snils("112233445")  # Анна Сергеевна Смирнова at tpu and at tsu
GRIGORIEVA_SNILS = snils("152637485")  # a joint master's student at tpu and tusur
ZHUKOV_SNILS = snils("246813579")  # staff at tsu, teaching at tpu and tusur
GALIEV_SNILS = snils("314159265")  # right at tpu; mistyped at tusur (check number wrong)
GALIEV_SNILS_MISTYPED = GALIEV_SNILS[:9] + f"{(int(GALIEV_SNILS[9:]) + 1) % 100:02d}"
# eduPersonEntitlement values some demo people hold (the library's licence terms, a lab).
LIBRARY_TERMS = "urn:mace:dir:entitlement:common-lib-terms"
LAB_ACCESS = "https://id.tpu.ru/entitlement/lab-access"
# The linking rules of the demo (the [linking] table of its configuration).
LINKING_RULES: dict[str, dict[str, object]] = {
    "snils": {"match": ["snils"], "action": "link"},
    "name_birthdate": {"match": ["family_name", "given_name", "middle_name", "birthdate"],
                       "action": "propose"},
}


@dataclass(frozen=True)
class Person:
    username: str
    given_name: str
    middle_name: str
    family_name: str
    affiliations: tuple[str, ...]  # as the directory stores them
    snils: str = ""
    birth_date: str = ""
    disabled: bool = False
    note: str = ""
    entitlements: tuple[str, ...] = ()  # eduPersonEntitlement URIs

    @property
    def password(self) -> str:
        return DEMO_PASSWORD if self.username == "demo" else f"Passw0rd-{self.username}"

    @property
    def full_name(self) -> str:
        """Russian official order: family name, given name, patronymic."""
        return f"{self.family_name} {self.given_name} {self.middle_name}"

    @property
    def guid(self) -> uuid.UUID:
        """The objectGUID of this person in the AD-like directory."""
        return uuid.uuid5(_GUID_NAMESPACE, self.username)


@dataclass(frozen=True)
class DemoOrganization:
    id: str
    name: str
    name_ru: str
    scope: str
    suffix: str
    base_dn: str
    type: str  # an idp.settings.DirectoryType value
    people: tuple[Person, ...]
    attributes: dict[str, str]
    user_filter: str  # empty: the directory type's preset
    schema_files: tuple[Path, ...]
    affiliation_map: dict[str, str] = field(default_factory=dict)
    # How this directory writes a SNILS (given as 11 digits) and a birth date (given as ISO).
    write_snils: Callable[[str], str] = _as_is
    write_birth_date: Callable[[str], str] = _as_is

    @property
    def service_dn(self) -> str:
        return f"cn=idp,{self.suffix}"

    @property
    def service_password(self) -> str:
        return f"idp-service-{self.id}"

    def person(self, username: str) -> Person:
        return next(p for p in self.people if p.username == username)

    def entries(self) -> list[Entry]:
        """The people's organizational unit and entries (userPassword as {SSHA} hashes)."""
        ou = self.base_dn.split(",", 1)[0].split("=", 1)[1]
        return [(self.base_dn, {"objectClass": ["top", "organizationalUnit"], "ou": ou}),
                *(self._entry(p) for p in self.people)]

    def server(self, **kwargs: Any) -> SlapdServer:
        """A slapd with this organization's data (not started; kwargs go to SlapdServer)."""
        return SlapdServer(self.suffix, self.entries(), schema_files=self.schema_files,
                           service_password=self.service_password, **kwargs)

    def config(self, uris: Sequence[str], *, start_tls: bool = False, ca_file: str = "",
               timeout_s: float = 3.0) -> dict[str, Any]:
        """The ``[organizations.<id>]`` table for the provider's TOML configuration."""
        insecure = not start_tls and any(u.startswith("ldap://") for u in uris)
        directory: dict[str, Any] = {
            "type": self.type, "uris": list(uris), "start_tls": start_tls,
            "allow_insecure": insecure, "base_dn": self.base_dn, "bind_dn": self.service_dn,
            "bind_password": self.service_password, "timeout_s": timeout_s,
            "attributes": dict(self.attributes),
        }
        if self.user_filter:
            directory["user_filter"] = self.user_filter
        if ca_file:
            directory["ca_file"] = ca_file
        if self.affiliation_map:
            directory["affiliation_map"] = dict(self.affiliation_map)
        return {"name": self.name, "name_ru": self.name_ru, "scope": self.scope,
                "directory": directory}

    def _entry(self, p: Person) -> Entry:
        attrs: dict[str, Any] = {
            "cn": f"{p.given_name} {p.family_name}", "sn": p.family_name,
            "givenName": p.given_name, "displayName": p.full_name,
            "mail": f"{p.username}@{self.scope}", "userPassword": ssha(p.password),
            "eduPersonPrincipalName": f"{p.username}@{self.scope}",
        }
        classes = ["top", "person", "organizationalPerson", "inetOrgPerson", "eduPerson",
                   "campusPerson"]
        if p.snils:
            attrs[self.attributes["snils"]] = self.write_snils(p.snils)
        if p.birth_date:
            attrs[self.attributes["birthdate"]] = self.write_birth_date(p.birth_date)
        if p.entitlements:
            attrs["eduPersonEntitlement"] = list(p.entitlements)
        if self.type == "active_directory":
            classes.append("user")
            attrs.update(cn=p.full_name, sAMAccountName=p.username, objectGUID=p.guid.bytes_le,
                         userPrincipalName=f"{p.username}@{self.scope}",
                         userAccountControl="514" if p.disabled else "512",
                         middleName=p.middle_name, eduPersonAffiliation=list(p.affiliations))
            dn = f"cn={p.full_name},{self.base_dn}"
        else:
            attrs.update(uid=p.username, campusMiddleName=p.middle_name)
            attrs["employeeType" if self.id == "tsu" else "eduPersonAffiliation"] = list(p.affiliations)
            dn = f"uid={p.username},{self.base_dn}"
        return dn, {"objectClass": classes, **attrs}


_LDAP_ATTRIBUTES = {
    "id": "entryUUID", "username": "uid", "given_name": "givenName", "family_name": "sn",
    "middle_name": "campusMiddleName", "display_name": "displayName", "email": "mail",
    "affiliation": "eduPersonAffiliation", "snils": "campusSnils", "birthdate": "campusBirthDate",
}
_P = Person

TPU = DemoOrganization(
    id="tpu", name="Tomsk Polytechnic University", name_ru="Томский политехнический университет",
    scope="tpu.ru", suffix="dc=tpu,dc=ru", base_dn="ou=people,dc=tpu,dc=ru", type="ldap",
    user_filter="(&(objectClass=inetOrgPerson)(uid={username}))",
    attributes=_LDAP_ATTRIBUTES, schema_files=(EDUPERSON_SCHEMA, CAMPUS_SCHEMA),
    people=(
        _P("demo", "Алексей", "Викторович", "Демидов", ("student", "member"), birth_date="2003-04-12",
           entitlements=(LIBRARY_TERMS,)),
        _P("asmirnova", "Анна", "Сергеевна", "Смирнова", ("staff", "employee", "member"),
           snils=SHARED_SNILS, birth_date="1994-09-30", note="same SNILS as tsu anna.smirnova",
           entitlements=(LIBRARY_TERMS, LAB_ACCESS)),
        _P("ikuznetsov", "Игорь", "Дмитриевич", "Кузнецов", ("faculty", "employee", "member"),
           entitlements=(LIBRARY_TERMS,)),
        _P("epopova", "Елена", "Николаевна", "Попова", ("staff", "employee", "member")),
        _P("dvasiliev", "Дмитрий", "Андреевич", "Васильев", ("student", "member")),
        _P("mpetrova", "Мария", "Игоревна", "Петрова", ("student", "member"), snils=snils("123456789")),
        _P("asokolov", "Артём", "Павлович", "Соколов", ("student", "member")),
        _P("ymikhailova", "Юлия", "Олеговна", "Михайлова", ("student", "member")),
        _P("nfedorov", "Николай", "Евгеньевич", "Фёдоров", ("faculty", "employee", "member")),
        _P("omorozova", "Ольга", "Владимировна", "Морозова", ("staff", "employee", "member")),
        _P("svolkov", "Сергей", "Александрович", "Волков", ("student", "alum", "member")),
        _P("tlebedeva", "Татьяна", "Ивановна", "Лебедева", ("alum",)),
        _P("pgrigorieva", "Полина", "Андреевна", "Григорьева", ("student", "member"),
           snils=GRIGORIEVA_SNILS, birth_date="2001-03-15",
           note="joint master's student, also tusur grigorieva.pa: one campus identity"),
        _P("vzhukov", "Виктор", "Олегович", "Жуков", ("faculty", "employee", "member"),
           snils=ZHUKOV_SNILS, birth_date="1980-07-12",
           note="also tsu viktor.zhukov and tusur zhukov.vo: one campus identity"),
        _P("tgaliev", "Тимур", "Рашидович", "Галиев", ("student", "member"),
           snils=GALIEV_SNILS, birth_date="1999-02-28",
           note="also tusur galiev.tr, whose SNILS is mistyped: a proposal, never a link"),
    ),
)

TSU = DemoOrganization(
    id="tsu", name="Tomsk State University", name_ru="Томский государственный университет",
    scope="tsu.ru", suffix="dc=tsu,dc=ru", base_dn="ou=people,dc=tsu,dc=ru", type="ldap",
    user_filter="(&(objectClass=inetOrgPerson)(uid={username}))",
    attributes={**_LDAP_ATTRIBUTES, "affiliation": "employeeType"},
    schema_files=(EDUPERSON_SCHEMA, CAMPUS_SCHEMA),
    affiliation_map={"Студент": "student", "Аспирант": "student", "Сотрудник": "staff",
                     "Преподаватель": "faculty", "Выпускник": "alum"},
    people=(
        _P("demo", "Дарья", "Михайловна", "Орлова", ("Студент",), birth_date="2004-01-22"),
        _P("anna.smirnova", "Анна", "Сергеевна", "Смирнова", ("Выпускник",),
           snils=SHARED_SNILS, birth_date="1994-09-30", note="same SNILS as tpu asmirnova"),
        _P("ivan.petrov", "Иван", "Васильевич", "Петров", ("Преподаватель", "Сотрудник")),
        _P("olga.kozlova", "Ольга", "Петровна", "Козлова", ("Сотрудник",)),
        _P("maxim.novikov", "Максим", "Андреевич", "Новиков", ("Студент",)),
        _P("ksenia.egorova", "Ксения", "Алексеевна", "Егорова", ("Студент",)),
        _P("pavel.nikitin", "Павел", "Сергеевич", "Никитин", ("Аспирант", "Сотрудник")),
        _P("svetlana.zakharova", "Светлана", "Юрьевна", "Захарова", ("Преподаватель",)),
        _P("roman.belov", "Роман", "Игоревич", "Белов", ("Студент",)),
        _P("vera.stepanova", "Вера", "Николаевна", "Степанова", ("Сотрудник",)),
        _P("kirill.sorokin", "Кирилл", "Олегович", "Сорокин", ("Абитуриент",),
           note="'Абитуриент' is not in the affiliation_map: no affiliation"),
        _P("lyudmila.pavlova", "Людмила", "Анатольевна", "Павлова", ("Преподаватель",)),
        _P("viktor.zhukov", "Виктор", "Олегович", "Жуков", ("Сотрудник",),
           snils=ZHUKOV_SNILS, birth_date="1980-07-12",
           note="also tpu vzhukov and tusur zhukov.vo: one campus identity"),
        _P("alena.elkina", "Алёна", "Викторовна", "Ёлкина", ("Студент",), birth_date="1990-11-05",
           note="no SNILS; same name and birth date as tusur elkina.av: a proposal only"),
    ),
    write_birth_date=dotted_date,
)

TUSUR = DemoOrganization(
    id="tusur", name="TUSUR", name_ru="Томский государственный университет систем управления "
    "и радиоэлектроники", scope="tusur.ru", suffix="dc=tusur,dc=ru",
    base_dn="ou=Users,dc=tusur,dc=ru", type="active_directory",
    user_filter="",  # the active_directory preset's: sAMAccountName or userPrincipalName
    attributes={"id": "objectGUID", "username": "sAMAccountName", "given_name": "givenName",
                "family_name": "sn", "middle_name": "middleName", "display_name": "displayName",
                "email": "mail", "affiliation": "eduPersonAffiliation", "snils": "employeeID",
                "birthdate": "campusDateOfBirth"},
    schema_files=(EDUPERSON_SCHEMA, CAMPUS_SCHEMA, AD_LIKE_SCHEMA),
    people=(
        _P("demo", "Никита", "Сергеевич", "Демченко", ("student", "member"), birth_date="2002-11-05"),
        _P("sidorov.av", "Андрей", "Викторович", "Сидоров", ("faculty", "employee", "member"),
           entitlements=(LIBRARY_TERMS,)),
        _P("kovaleva.ei", "Екатерина", "Игоревна", "Ковалёва", ("student", "member")),
        _P("gusev.dn", "Денис", "Николаевич", "Гусев", ("staff", "employee", "member")),
        _P("titova.ma", "Марина", "Александровна", "Титова", ("student", "member")),
        _P("baranov.ip", "Илья", "Петрович", "Баранов", ("student", "member"), disabled=True,
           note="disabled account (userAccountControl 514)"),
        _P("zaitseva.os", "Ольга", "Сергеевна", "Зайцева", ("staff", "employee", "member")),
        _P("frolov.ka", "Константин", "Андреевич", "Фролов", ("faculty", "employee", "member")),
        _P("medvedeva.ad", "Алина", "Дмитриевна", "Медведева", ("student", "member"),
           snils=snils("987654321")),
        _P("karpov.ev", "Евгений", "Владимирович", "Карпов", ("student", "member")),
        _P("nikolaeva.ty", "Татьяна", "Юрьевна", "Николаева", ("staff", "employee", "member")),
        _P("orlov.gm", "Глеб", "Максимович", "Орлов", ("student", "member")),
        _P("grigorieva.pa", "Полина", "Андреевна", "Григорьева", ("student", "member"),
           snils=GRIGORIEVA_SNILS, birth_date="2001-03-15",
           note="joint master's student, also tpu pgrigorieva: one campus identity"),
        _P("zhukov.vo", "Виктор", "Олегович", "Жуков", ("faculty", "employee", "member"),
           snils=ZHUKOV_SNILS, birth_date="1980-07-12",
           note="also tsu viktor.zhukov and tpu vzhukov: one campus identity"),
        _P("elkina.av", "Алена", "Викторовна", "Елкина", ("student", "member"), birth_date="1990-11-05",
           note="no SNILS; same name and birth date as tsu alena.elkina: a proposal only"),
        _P("galiev.tr", "Тимур", "Рашидович", "Галиев", ("student", "member"),
           snils=GALIEV_SNILS_MISTYPED, birth_date="1999-02-28",
           note="INVALID SNILS (check number wrong): reported, linked to nothing"),
    ),
    write_snils=dashed_snils, write_birth_date=generalized_time,
)

ORGANIZATIONS: dict[str, DemoOrganization] = {org.id: org for org in (TPU, TSU, TUSUR)}


def organization(org_id: str) -> DemoOrganization:
    return ORGANIZATIONS[org_id]


def roster() -> list[dict[str, str]]:
    """One row per person, for the README and the demo's start-up banner."""
    return [
        {"organization": org.id, "username": p.username, "password": p.password,
         "name": p.full_name, "affiliations": ", ".join(p.affiliations), "note": p.note}
        for org in ORGANIZATIONS.values() for p in org.people
    ]
