"""Dialect presets for LDAP and Active Directory, and the pure rules that turn what a directory
returns into a ``DirectoryAccount``: no network here, so every rule is unit-tested. Also the
rules of a directory listing (``idp.directory.listing``): its filter and its incremental marks.

The operator's ``attributes`` mapping (claim name -> directory attribute) overrides the preset
key by key; an empty ``user_filter`` means the preset's. Stable ids are never a DN or a username.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from idp.directory.base import AuthStatus, DirectoryAccount
from idp.settings import DirectorySettings, DirectoryType

# eduPerson's controlled vocabulary for eduPersonAffiliation (eduPerson 202208, section 2.2.1).
EDUPERSON_AFFILIATIONS = frozenset(
    {"faculty", "student", "staff", "alum", "member", "affiliate", "employee", "library-walk-in"}
)
MAX_USERNAME_LENGTH = 256
MAX_PASSWORD_LENGTH = 1024  # longer is no one's password; refuse it without troubling the server

_COMMON_ATTRIBUTES = {
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "displayName",
    "email": "mail",
    "affiliation": "eduPersonAffiliation",
    "entitlement": "eduPersonEntitlement",  # URIs of rights (eduPerson 202208, 2.2.5)
}
# userAccountControl flag "ACCOUNTDISABLE" ([MS-ADTS] 2.2.16).
AD_ACCOUNTDISABLE = 0x2
AD_ACCOUNT_CONTROL = "userAccountControl"
# Sub-codes in the diagnostic message of an AD bind refused with invalidCredentials (49),
# e.g. "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563".
_AD_BIND_DATA = {
    "532": AuthStatus.PASSWORD_EXPIRED,  # password expired
    "773": AuthStatus.PASSWORD_EXPIRED,  # the user must reset the password
    "775": AuthStatus.ACCOUNT_LOCKED,
    "533": AuthStatus.ACCOUNT_DISABLED,
}
_AD_DATA_RE = re.compile(r"\bdata ([0-9a-f]+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Preset:
    user_filter: str
    attributes: Mapping[str, str]
    active_directory: bool  # reads userAccountControl and AD's bind sub-codes


PRESETS: dict[DirectoryType, Preset] = {
    DirectoryType.LDAP: Preset(
        user_filter="(&(objectClass=inetOrgPerson)(uid={username}))",
        attributes={"id": "entryUUID", "username": "uid", **_COMMON_ATTRIBUTES},
        active_directory=False,
    ),
    DirectoryType.ACTIVE_DIRECTORY: Preset(
        user_filter=(
            "(&(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={username})))"
        ),
        attributes={"id": "objectGUID", "username": "sAMAccountName", "middle_name": "middleName",
                    **_COMMON_ATTRIBUTES},
        active_directory=True,
    ),
}


@dataclass(frozen=True)
class Profile:
    """One organization's effective settings: its type's preset with the operator's changes."""

    user_filter: str
    attributes: Mapping[str, str]
    active_directory: bool

    @property
    def requested_attributes(self) -> list[str]:
        """What to ask the search for (entryUUID is operational: it must be named)."""
        names = list(dict.fromkeys(self.attributes.values()))
        if self.active_directory and AD_ACCOUNT_CONTROL not in names:
            names.append(AD_ACCOUNT_CONTROL)
        return names


def profile_for(settings: DirectorySettings) -> Profile:
    preset = PRESETS[settings.type]
    return Profile(
        user_filter=settings.user_filter or preset.user_filter,
        attributes={**preset.attributes, **settings.attributes},
        active_directory=preset.active_directory,
    )


def profile_problems(profile: Profile) -> list[str]:
    """Mistakes that would make accounts unstable: an id that is the DN or the username."""
    problems = []
    id_attr = profile.attributes["id"].lower()
    if id_attr in {"dn", "distinguishedname", "entrydn"}:
        problems.append("attributes.id: the DN changes on rename; use entryUUID or objectGUID")
    if id_attr == profile.attributes["username"].lower():
        problems.append("attributes.id: must not be the username attribute, which can change")
    return problems


def acceptable_credentials(username: str, password: str) -> bool:
    """False for input no directory should see: empty, oversized, or with control characters."""
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return False
    if not username or len(username) > MAX_USERNAME_LENGTH:
        return False
    return not any(unicodedata.category(ch) == "Cc" for ch in username)


def login_name(username: str, *, active_directory: bool) -> str:
    """The name the login throttle counts ``username`` under: on Active Directory, whose preset
    finds an account by ``name`` (sAMAccountName) or ``name@suffix`` (userPrincipalName), the
    part before the last ``@``. (A userPrincipalName whose name part differs from the
    sAMAccountName still counts apart: only the directory knows they are one account.)"""
    if active_directory:
        name, sep, _suffix = username.rpartition("@")
        if sep and name:
            return name
    return username


def render_filter(template: str, escaped_username: str) -> str:
    """The search filter; the caller escapes the username (``escape_filter_chars``) first."""
    return template.replace("{username}", escaped_username)


def decode_id(attribute: str, raw: bytes) -> str:
    """The stable id as text: objectGUID (16 bytes, Windows byte order) and entryUUID as a
    lower-case UUID; any other attribute as its UTF-8 text. ValueError when unusable."""
    if attribute.lower() == "objectguid":
        if len(raw) != 16:
            raise ValueError(f"objectGUID has {len(raw)} bytes, not 16")
        return str(uuid.UUID(bytes_le=raw))
    text = raw.decode("utf-8").strip()
    if not text:
        raise ValueError(f"{attribute} is empty")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def account_from_entry(organization: str, profile: Profile, affiliation_map: Mapping[str, str],
                       attrs: Mapping[str, Sequence[bytes]], typed: str = "") -> DirectoryAccount:
    """The account an entry describes (``attrs`` keyed by lower-cased attribute name), its
    attributes mapped to claim names and its affiliations translated. ``typed``: what the
    person typed at login (empty in a listing). ValueError when it has no usable id or
    username."""
    mapping = profile.attributes
    id_attr, username_attr = mapping["id"], mapping["username"]
    raw_ids = attrs.get(id_attr.lower(), [])
    if not raw_ids:
        raise ValueError(f"no {id_attr} (attributes.id): the account cannot be identified")
    try:
        external_id = decode_id(id_attr, raw_ids[0])
    except ValueError as exc:
        raise ValueError(f"the {id_attr} is not usable: {exc}") from exc
    username = choose_username(decode_values(attrs.get(username_attr.lower(), [])), typed)
    if username is None:
        raise ValueError(f"no {username_attr} (attributes.username)")
    claims: dict[str, tuple[str, ...]] = {}
    for claim, attribute in mapping.items():
        if claim in ("id", "username"):
            continue
        values = decode_values(attrs.get(attribute.lower(), []))
        if claim == "affiliation":
            values = translate_affiliations(values, affiliation_map)
        if values:
            claims[claim] = values
    return DirectoryAccount(organization=organization, external_id=external_id,
                            username=username, attributes=claims)


def choose_username(values: Sequence[str], typed: str) -> str | None:
    """The stored username (lower-cased): the value matching what was typed if the attribute has
    several (or the person typed a userPrincipalName), else the first."""
    for value in values:
        if value.casefold() == typed.casefold():
            return value.lower()
    return values[0].lower() if values else None


def translate_affiliations(values: Iterable[str], affiliation_map: Mapping[str, str]) -> tuple[str, ...]:
    """Directory values through ``affiliation_map`` (exact, then case-insensitive), lower-cased,
    keeping only eduPerson's vocabulary, without duplicates."""
    folded = {key.casefold(): value for key, value in affiliation_map.items()}
    out: list[str] = []
    for value in values:
        mapped = affiliation_map.get(value) or folded.get(value.casefold(), value)
        mapped = mapped.strip().lower()
        if mapped in EDUPERSON_AFFILIATIONS and mapped not in out:
            out.append(mapped)
    return tuple(out)


def decode_values(raw: Iterable[bytes]) -> tuple[str, ...]:
    """UTF-8 text values; binary values (photos, certificates) are not claims and are dropped."""
    out = []
    for value in raw:
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return tuple(out)


def ad_bind_status(diagnostic: str) -> AuthStatus:
    """What an AD bind refusal means, from the ``data NNN`` sub-code of its diagnostic message."""
    match = _AD_DATA_RE.search(diagnostic)
    if match is None:
        return AuthStatus.INVALID_CREDENTIALS
    return _AD_BIND_DATA.get(match.group(1).lower(), AuthStatus.INVALID_CREDENTIALS)


def ad_account_disabled(raw: Sequence[bytes]) -> bool:
    """True when userAccountControl has ACCOUNTDISABLE set (514 = 512 | 2)."""
    for value in raw:
        try:
            return bool(int(value) & AD_ACCOUNTDISABLE)
        except ValueError:
            continue
    return False


# -- listings ------------------------------------------------------------------------------
_WILDCARD_ORDERING = re.compile(r"\(([^()=~<>:]+)(?:~=|>=|<=)\*\)")
_GENERALIZED_TIME = re.compile(r"(\d{14})(?:[.,]\d+)?(Z|[+-]\d{4})")
_TIME_FORMAT = "%Y%m%d%H%M%SZ"
TIMESTAMP_MARK = "ts:"  # OpenLDAP and the rest: the latest modifyTimestamp, "ts:20260901120000Z"
USN_MARK = "usn:"  # Active Directory: highestCommittedUSN and the DC it counts on, "usn:N@dsServiceName"
# A listing's modifyTimestamp mark is never later than the listing's start by our clock less
# this much: an entry changed while the listing ran, behind its cursor, is then listed next
# time even when the server's clock runs this far behind ours.
CLOCK_SKEW_S = 300


def listing_filter(user_filter: str) -> str:
    """The user filter with ``{username}`` matching any value: every entry a login could find.
    A wildcard left alone where a filter allows none (an ordering or approximate match)
    becomes a presence test."""
    rendered = re.sub(r"\*{2,}", "*", user_filter.replace("{username}", "*"))
    return _WILDCARD_ORDERING.sub(r"(\1=*)", rendered)


def ad_computer(object_classes: Iterable[bytes]) -> bool:
    """Active Directory's computer accounts are objectClass ``user`` too, and nobody's account.
    (Told apart here rather than in the filter: a server without the class, such as an
    Active-Directory-like OpenLDAP, finds no entry at all for ``(!(objectClass=computer))``.)"""
    return any(value.lower() == b"computer" for value in object_classes)


def and_filter(*filters: str) -> str:
    """Every filter must match (RFC 4515 ``&``); each is one parenthesised filter."""
    return "(&" + "".join(filters) + ")"


def normalized_time(value: str) -> str | None:
    """A GeneralizedTime as ``YYYYMMDDHHMMSSZ`` in UTC, fractions dropped (rounding down keeps a
    ``>=`` comparison inclusive); None when ``value`` is not one with seconds."""
    match = _GENERALIZED_TIME.fullmatch(value.strip())
    if match is None:
        return None
    digits, zone = match.groups()
    try:
        moment = datetime.strptime(digits + zone.replace("Z", "+0000"), "%Y%m%d%H%M%S%z")
    except ValueError:
        return None
    return _utc(moment)


def _utc(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    return (moment.replace(tzinfo=None) - offset).strftime(_TIME_FORMAT)


def timestamp_mark(latest_seen: str | None, since: str | None, started_at: datetime) -> str | None:
    """The mark after a modifyTimestamp listing that began at ``started_at`` (aware, our clock)
    since the normalized time ``since`` (None: a full listing) and saw ``latest_seen`` at the
    latest: that, but never after the start less ``CLOCK_SKEW_S``, nor before ``since``. None
    when the listing saw no timestamp at all and had no ``since``."""
    if latest_seen is None:
        return TIMESTAMP_MARK + since if since else None
    cap = _utc(started_at - timedelta(seconds=CLOCK_SKEW_S))
    mark = min(latest_seen, cap)
    if since is not None:
        mark = max(mark, since)
    return TIMESTAMP_MARK + mark


def parse_timestamp_mark(mark: str | None) -> str | None:
    """The normalized time of a ``ts:`` mark; None for no mark or another kind."""
    if not mark or not mark.startswith(TIMESTAMP_MARK):
        return None
    return normalized_time(mark[len(TIMESTAMP_MARK):])


def usn_mark(highest_committed: int, server: str) -> str:
    return f"{USN_MARK}{highest_committed}@{server}"


def parse_usn_mark(mark: str | None) -> tuple[int, str] | None:
    """The USN and the domain controller (its dsServiceName) of a ``usn:`` mark; None for no
    mark or another kind. Update sequence numbers count on one domain controller only."""
    if not mark or not mark.startswith(USN_MARK):
        return None
    number, sep, server = mark[len(USN_MARK):].partition("@")
    if not sep or not server or not number.isdigit():
        return None
    return int(number), server
