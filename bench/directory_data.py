"""A generated organization directory of N people (default 100,000) in a throwaway slapd, for
the directory sync benches: the LDIF is written straight to a file and loaded offline with
slapadd before slapd starts (seconds, where adding entries over LDAP would take minutes).

Every person has the attributes a demo organization maps (names with a patronymic, mail,
eduPersonAffiliation, a SNILS for some, a birth date) and a fixed ``entryUUID`` (uuid5 of the
username), so a bench can tell who is who. ``modifyTimestamp`` values are spread one second
apart over the hours before the load, as in a directory that lived a while: an incremental
listing right after the load then returns (almost) nothing. Every ``DISABLED_EVERY``-th person is
disabled the OpenLDAP way this bench configures (``shadowExpire: 1``, matched by
:data:`DISABLED_FILTER`).

    with running_directory(100_000) as directory:
        settings = directory.settings()          # DirectorySettings for LdapDirectory
        changed = directory.modify(1000)         # usernames whose entries changed
        gone = directory.delete(10)              # usernames removed

    .venv/bin/python -m bench.directory_data [--entries N]   # prints raw listing speed
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import ldap
import ldif

from demo.people import CAMPUS_SCHEMA, EDUPERSON_SCHEMA, snils
from demo.slapd import SLAPADD, SlapdServer, ssha
from idp.settings import DirectorySettings, DirectoryType

ORGANIZATION = "bench"
SUFFIX = "dc=bench,dc=test"
BASE_DN = f"ou=people,{SUFFIX}"
SCOPE = "bench.test"
DEFAULT_ENTRIES = 100_000
SERVICE_PASSWORD = "bench-directory-service"
PASSWORD = "Bench-passw0rd"  # everyone's: the bench may log people in
DISABLED_EVERY = 50
DISABLED_FILTER = "(shadowExpire=1)"
USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username}))"
ATTRIBUTES = {
    "id": "entryUUID", "username": "uid", "given_name": "givenName", "family_name": "sn",
    "middle_name": "campusMiddleName", "display_name": "displayName", "email": "mail",
    "affiliation": "eduPersonAffiliation", "snils": "campusSnils", "birthdate": "campusBirthDate",
}
MAP_SIZE = 4 << 30  # bytes of address space for the database (mdb maxsize); used as it fills
_NAMESPACE = uuid.UUID("0f4e7f0c-6f43-4b8e-9a8e-4b1c2d3e4f50")  # fixed: stable ids per username
_GIVEN = ("Александр", "Анна", "Дмитрий", "Елена", "Иван", "Мария", "Никита", "Ольга", "Павел",
          "Светлана", "Сергей", "Татьяна", "Юлия", "Кирилл", "Алина", "Глеб")
_FAMILY = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
           "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев")
_MIDDLE = ("Александрович", "Сергеевна", "Игоревич", "Андреевна", "Павлович", "Олеговна")
_AFFILIATIONS = (("student", "member"), ("student", "member"), ("student", "member"),
                 ("staff", "employee", "member"), ("faculty", "employee", "member"), ("alum",))


def username(index: int) -> str:
    return f"p{index:07d}"


def entry_uuid(index: int) -> str:
    """The entryUUID of person ``index``, as the provider stores it (``external_id``)."""
    return str(uuid.uuid5(_NAMESPACE, username(index)))


def disabled(index: int) -> bool:
    return index % DISABLED_EVERY == DISABLED_EVERY - 1


@dataclasses.dataclass(frozen=True)
class BenchDirectory:
    """A running generated directory: where it is, how to bind, and how to change it."""

    server: GeneratedSlapd
    entries: int

    @property
    def uri(self) -> str:
        return self.server.uri

    @property
    def bind_dn(self) -> str:
        return self.server.service_dn

    @property
    def bind_password(self) -> str:
        return self.server.service_password

    def settings(self, **changes: Any) -> DirectorySettings:
        """Settings for ``LdapDirectory(ORGANIZATION, ...)``, with ``changes`` applied."""
        settings = DirectorySettings(
            type=DirectoryType.LDAP, uris=(self.uri,), base_dn=BASE_DN, bind_dn=self.bind_dn,
            bind_password=self.bind_password, user_filter=USER_FILTER, allow_insecure=True,
            timeout_s=10.0, attributes=dict(ATTRIBUTES), disabled_filter=DISABLED_FILTER,
        )
        return dataclasses.replace(settings, **changes)

    def config(self) -> dict[str, Any]:
        """The ``[organizations.bench]`` table of a provider configuration for this directory."""
        return {
            "name": "Bench University", "name_ru": "Тестовый университет", "scope": SCOPE,
            "directory": {
                "type": "ldap", "uris": [self.uri], "base_dn": BASE_DN, "bind_dn": self.bind_dn,
                "bind_password": self.bind_password, "user_filter": USER_FILTER,
                "allow_insecure": True, "timeout_s": 10.0, "attributes": dict(ATTRIBUTES),
                "disabled_filter": DISABLED_FILTER,
            },
        }

    def modify(self, count: int, *, start: int = 0, step: int | None = None) -> list[str]:
        """Change the display name of ``count`` people spread over the directory (every
        ``step``-th from ``start``); their ``modifyTimestamp`` becomes now. Returns their
        usernames."""
        step = step or max(1, self.entries // max(count, 1))
        indexes = [(start + i * step) % self.entries for i in range(count)]
        conn = self.server.admin_connection()
        try:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            pending = [conn.modify_ext(_dn(i), [(ldap.MOD_REPLACE, "displayName",
                                                 [f"{_display_name(i)} ({stamp})".encode()])])
                       for i in indexes]
            for msgid in pending:
                conn.result3(msgid, all=1, timeout=30)
        finally:
            conn.unbind_s()
        return [username(i) for i in indexes]

    def delete(self, count: int, *, start: int = 0, step: int | None = None) -> list[str]:
        """Remove ``count`` people (every ``step``-th from ``start``), as a directory does with
        people who left; a full listing no longer has them. Returns their usernames."""
        step = step or max(1, self.entries // max(count, 1))
        indexes = sorted({(start + i * step) % self.entries for i in range(count)})
        conn = self.server.admin_connection()
        try:
            for msgid in [conn.delete_ext(_dn(i)) for i in indexes]:
                conn.result3(msgid, all=1, timeout=30)
        finally:
            conn.unbind_s()
        return [username(i) for i in indexes]

    def set_disabled(self, indexes: Sequence[int], value: bool = True) -> None:
        """Disable (or enable again) the people ``indexes`` the way DISABLED_FILTER sees."""
        conn = self.server.admin_connection()
        try:
            for i in indexes:
                change = [(ldap.MOD_REPLACE, "shadowExpire", [b"1" if value else b"-1"])]
                conn.modify_s(_dn(i), change)
        finally:
            conn.unbind_s()


class GeneratedSlapd(SlapdServer):
    """A ``SlapdServer`` loaded from a generated LDIF, with room and limits for large
    directories: a bigger database, indexes for the sync's filters, no size limit on the
    service account's searches (real servers need the same for a paged listing)."""

    def __init__(self, count: int, **kwargs: Any) -> None:
        super().__init__(SUFFIX, schema_files=(EDUPERSON_SCHEMA, CAMPUS_SCHEMA),
                         service_password=SERVICE_PASSWORD, **kwargs)
        self.count = count
        self.loaded_in_s = 0.0

    def _configure(self) -> None:
        super()._configure()
        conf = self.workdir / "slapd.conf"
        text = conf.read_text(encoding="utf-8")
        text = text.replace("maxsize 33554432", f"maxsize {MAP_SIZE}")
        lines = text.splitlines()
        at = lines.index("index objectClass eq") + 1
        lines[at:at] = [
            "index uid,entryUUID eq",
            "index modifyTimestamp eq",
            f'limits dn.exact="{self.service_dn}" size=unlimited time=unlimited',
        ]
        global_at = lines.index("database mdb")
        lines[global_at:global_at] = ["tool-threads 2"]
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _load(self) -> None:
        started = time.monotonic()
        ldif_path = self.workdir / "data.ldif"
        with ldif_path.open("w", encoding="utf-8") as out:
            writer = ldif.LDIFWriter(out)
            for dn, attrs in self._all_entries():  # the suffix and the service account
                writer.unparse(dn, attrs)
            out.write(f"dn: {BASE_DN}\nobjectClass: top\nobjectClass: organizationalUnit\n"
                      "ou: people\n\n")
            write_people(out, self.count)
        result = subprocess.run(
            [SLAPADD, "-q", "-f", str(self.workdir / "slapd.conf"), "-b", self.suffix,
             "-l", str(ldif_path)],
            capture_output=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"slapadd failed: {result.stderr.decode(errors='replace')}")
        ldif_path.unlink()
        self._loaded = True
        self.loaded_in_s = time.monotonic() - started


def write_people(out: TextIO, count: int, *, now: datetime | None = None) -> None:
    """``count`` people as LDIF, one second of ``modifyTimestamp`` apart, the newest an hour
    before ``now``."""
    now = now or datetime.now(UTC)
    first = now - timedelta(hours=1, seconds=count)
    password = ssha(PASSWORD)
    for i in range(count):
        name = username(i)
        given, family = _GIVEN[i % len(_GIVEN)], _FAMILY[(i // 7) % len(_FAMILY)]
        middle = _MIDDLE[(i // 3) % len(_MIDDLE)]
        stamp = (first + timedelta(seconds=i)).strftime("%Y%m%d%H%M%SZ")
        lines = [
            f"dn: {_dn(i)}",
            "objectClass: top", "objectClass: person", "objectClass: organizationalPerson",
            "objectClass: inetOrgPerson", "objectClass: eduPerson", "objectClass: campusPerson",
            "objectClass: shadowAccount",
            f"uid: {name}",
            _b64("cn", f"{given} {family}"), _b64("sn", family), _b64("givenName", given),
            _b64("campusMiddleName", middle), _b64("displayName", _display_name(i)),
            f"mail: {name}@{SCOPE}",
            *(f"eduPersonAffiliation: {a}" for a in _AFFILIATIONS[i % len(_AFFILIATIONS)]),
            f"campusBirthDate: {1970 + i % 35}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            f"userPassword: {password}",
            f"entryUUID: {entry_uuid(i)}",
            f"createTimestamp: {stamp}",
            f"modifyTimestamp: {stamp}",
        ]
        if i % 3 == 0:
            lines.append(f"campusSnils: {snils(f'{100000000 + i:09d}'[-9:])}")
        if disabled(i):
            lines.append("shadowExpire: 1")
        out.write("\n".join(lines) + "\n\n")


def _dn(index: int) -> str:
    return f"uid={username(index)},{BASE_DN}"


def _display_name(index: int) -> str:
    given, family = _GIVEN[index % len(_GIVEN)], _FAMILY[(index // 7) % len(_FAMILY)]
    return f"{family} {given} {_MIDDLE[(index // 3) % len(_MIDDLE)]}"


def _b64(attribute: str, value: str) -> str:
    return f"{attribute}:: {base64.b64encode(value.encode()).decode()}"


@contextmanager
def running_directory(entries: int = DEFAULT_ENTRIES, *,
                      workdir: str | Path | None = None) -> Iterator[BenchDirectory]:
    """A started slapd with ``entries`` generated people, stopped (and its files removed
    unless ``workdir`` was given) at the end of the block."""
    server = GeneratedSlapd(entries, workdir=workdir)
    with server:
        yield BenchDirectory(server, entries)


def measure_listing(directory: BenchDirectory, *, modified: int = 1000) -> dict[str, Any]:
    """Raw listing speed with ``LdapDirectory.listing``: a full listing, an incremental one
    with nothing changed, and one after ``modified`` people changed."""
    from idp.directory.ldap import LdapDirectory

    ldap_directory = LdapDirectory(ORGANIZATION, directory.settings())
    try:
        figures: dict[str, Any] = {"entries": directory.entries,
                                   "load_s": round(directory.server.loaded_in_s, 2)}
        mark = None
        for name, since in (("full", None), ("incremental, nothing changed", "mark"),
                            ("incremental, after changes", "mark")):
            if name == "incremental, after changes":
                directory.modify(modified)
            started = time.perf_counter()
            listing = ldap_directory.listing(mark if since else None)
            seen = disabled_count = 0
            for entry in listing.entries:
                seen += 1
                disabled_count += entry.disabled
            elapsed = time.perf_counter() - started
            mark = listing.mark
            figures[name] = {"seen": seen, "disabled": disabled_count,
                             "incremental": listing.incremental, "seconds": round(elapsed, 3),
                             "entries_per_s": round(seen / elapsed) if elapsed else None}
        return figures
    finally:
        ldap_directory.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=DEFAULT_ENTRIES)
    parser.add_argument("--modified", type=int, default=1000)
    args = parser.parse_args(argv)
    with running_directory(args.entries) as directory:
        print(json.dumps(measure_listing(directory, modified=args.modified), indent=2,
                         ensure_ascii=False))


if __name__ == "__main__":
    main()
