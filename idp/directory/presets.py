"""Dialect presets for LDAP and Active Directory, and the pure rules that turn what a directory
returns into a ``DirectoryAccount``: no network here, so every rule is unit-tested.

The operator's ``attributes`` mapping (claim name -> directory attribute) overrides the preset
key by key; an empty ``user_filter`` means the preset's. Stable ids are never a DN or a username.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from idp.directory.base import AuthStatus
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
