"""Client metadata of a registration or update request (RFC 7591 section 2), validated
strictly: every problem found is reported at once in one standard error whose description
names each field (``invalid_redirect_uri`` when only redirect URIs are wrong, else
``invalid_client_metadata``, RFC 7591 3.2.2). Metadata we do not know is ignored (RFC 7591 2);
metadata we know but cannot honour is refused rather than silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError

from idp.identity.claims import SUPPORTED_SCOPES
from idp.oidc.descriptions import description
from idp.oidc.key_metadata import (
    FetchUris,
    KeyMetadata,
    parse_key_metadata,
    sector_identifier,
)
from idp.oidc.keys import SUPPORTED_ALGS
from idp.oidc.profiles import PROFILES, Profile
from idp.settings.clients import check_redirect_uri
from idp.settings.model import DEFAULT_CLIENT_SCOPES
from idp.settings.reader import TableReader

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "refresh_token")
REGISTERABLE_SCOPES = (*SUPPORTED_SCOPES, "offline_access")
HTTPS_URI_FIELDS = ("logo_uri", "client_uri", "policy_uri", "tos_uri")
LOCALISABLE = ("client_name", *HTTPS_URI_FIELDS)  # RFC 7591 2.2
# Known metadata whose meaning we cannot provide: accepting it would mislead the client.
UNSUPPORTED = {
    "id_token_encrypted_response_alg": "ID tokens are signed, never encrypted",
    "userinfo_signed_response_alg": "UserInfo answers plain JSON",
    "userinfo_encrypted_response_alg": "UserInfo answers plain JSON",
}
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")  # BCP 47, loosely
MAX_URIS = 20
MAX_URI_LENGTH = 2000
MAX_TEXT = 200


@dataclass(frozen=True)
class ClientMetadata:
    """What a valid request asks for, with defaults (and a profile's presets) filled in."""

    client_name: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    scopes: tuple[str, ...]
    id_token_signed_response_alg: str
    pkce_required: bool
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    event_delivery_uri: str = ""  # where Security Event Tokens are pushed (RFC 8935)
    extra: Mapping[str, Any] = field(default_factory=dict)  # stored as registered, echoed back
    keys: KeyMetadata = field(default_factory=KeyMetadata)
    sector_identifier: str | None = None  # of a pairwise client (OpenID Connect Core 8.1)

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.fields: set[str] = set()

    def add(self, name: str, message: str) -> None:
        self.fields.add(name)
        self.messages.append(f"{name}: {message}")

    def raise_if_any(self) -> None:
        if not self.messages:
            return
        text = description("; ".join(self.messages))  # the messages repeat the client's values
        if self.fields == {"redirect_uris"}:
            raise InvalidRedirectURIError(text)
        raise InvalidClientMetadataError(text)


def parse_client_metadata(data: object, *, dev_mode: bool,
                          fetch_sector: FetchUris | None = None) -> ClientMetadata:
    """Raise ``InvalidClientMetadataError`` / ``InvalidRedirectURIError`` naming each field.
    A pairwise client's ``sector_identifier_uri`` is fetched with ``fetch_sector`` (by
    default under the default ``[outbound]`` limits: pass ``sector_fetcher(settings.outbound)``)."""
    if not isinstance(data, dict):
        raise InvalidClientMetadataError("The request body must be a JSON object of client metadata.")
    problems = _Problems()
    profile = _profile(data, problems)
    request = {**profile.defaults, **data} if profile else data
    auth_method = _auth_method(request, profile, problems)
    grant_types = _grant_types(request, problems)
    redirect_uris = _redirect_uris(request, profile, dev_mode, problems)
    keys, found = parse_key_metadata(request, auth_method, dev_mode)
    for name, messages in found.items():
        for message in messages:
            problems.add(name, message)
    sector = None
    if "redirect_uris" not in problems.fields:  # a sector is only worth fetching for valid URIs
        sector, found = sector_identifier(keys.subject_type, redirect_uris,
                                          keys.sector_identifier_uri, dev_mode, fetch_sector)
        for name, messages in found.items():
            for message in messages:
                problems.add(name, message)
    metadata = ClientMetadata(
        client_name=_client_name(request, problems),
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=auth_method,
        grant_types=grant_types,
        response_types=_response_types(request, grant_types, problems),
        scopes=_scopes(request, grant_types, problems),
        id_token_signed_response_alg=_signing_alg(request, problems),
        pkce_required=auth_method == "none" or profile is None or profile.pkce_required,
        post_logout_redirect_uris=_post_logout_uris(request, dev_mode, problems),
        backchannel_logout_uri=_push_uri(request, "backchannel_logout_uri", dev_mode, problems),
        backchannel_logout_session_required=_flag(request, "backchannel_logout_session_required",
                                                  problems),
        event_delivery_uri=_push_uri(request, "event_delivery_uri", dev_mode, problems),
        extra=_extra(request, profile, problems),
        keys=keys,
        sector_identifier=sector,
    )
    for name, reason in UNSUPPORTED.items():
        if request.get(name) is not None:
            problems.add(name, f"is not supported: {reason}")
    problems.raise_if_any()
    return metadata


def _post_logout_uris(request: Mapping[str, Any], dev_mode: bool,
                      problems: _Problems) -> tuple[str, ...]:
    """RP-Initiated Logout 1.0, section 3.1: the redirect URI rules apply."""
    uris = request.get("post_logout_redirect_uris")
    if uris is None:
        return ()
    if not isinstance(uris, list) or not all(isinstance(u, str) and u for u in uris):
        problems.add("post_logout_redirect_uris", "must be an array of strings")
        return ()
    if len(uris) > MAX_URIS:
        problems.add("post_logout_redirect_uris", f"at most {MAX_URIS} are allowed")
        return ()
    found: list[str] = []
    for uri in uris:
        if len(uri) > MAX_URI_LENGTH:
            found.append(f"post_logout_redirect_uris: a URI is longer than {MAX_URI_LENGTH} characters")
            continue
        check_redirect_uri(TableReader({}, "", found), "post_logout_redirect_uris", uri, dev_mode)
    for message in found:
        problems.add("post_logout_redirect_uris", message.removeprefix("post_logout_redirect_uris: "))
    return tuple(dict.fromkeys(uris))


def _push_uri(request: Mapping[str, Any], name: str, dev_mode: bool, problems: _Problems) -> str:
    """Where the provider posts to the client: ``backchannel_logout_uri`` (Back-Channel Logout
    1.0, section 2.2) and ``event_delivery_uri`` (RFC 8935 push delivery of Security Event
    Tokens): absolute, no fragment, https as redirect URIs."""
    uri = request.get(name)
    if uri is None:
        return ""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        problems.add(name, "must be an absolute URI")
        return ""
    found: list[str] = []
    check_redirect_uri(TableReader({}, "", found), name, uri, dev_mode)
    for message in found:
        problems.add(name, message.removeprefix(f"{name}: "))
    return uri


def _flag(request: Mapping[str, Any], name: str, problems: _Problems) -> bool:
    value = request.get(name, False)
    if not isinstance(value, bool):
        problems.add(name, "must be true or false")
        return False
    return value


def _profile(data: Mapping[str, Any], problems: _Problems) -> Profile | None:
    name = data.get("campus_profile")
    if name is None:
        return None
    found = PROFILES.get(name) if isinstance(name, str) else None
    if found is None:
        problems.add("campus_profile", f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
    return found


def _client_name(request: Mapping[str, Any], problems: _Problems) -> str:
    name = request.get("client_name")
    if name is None:
        problems.add("client_name", "is required: people see it on the consent page")
        return ""
    if not _is_text(name):
        problems.add("client_name", f"must be a non-empty string of at most {MAX_TEXT} characters")
        return ""
    return str(name).strip()


def _is_text(value: object) -> bool:
    return (isinstance(value, str) and 0 < len(value.strip()) <= MAX_TEXT
            and value.isprintable())


def _redirect_uris(request: Mapping[str, Any], profile: Profile | None, dev_mode: bool,
                   problems: _Problems) -> tuple[str, ...]:
    """Absolute, https (http only to loopback in dev mode), no fragment (RFC 7591 2; OAuth 2.0
    Security BCP 4.1); matched exactly at authorization time."""
    uris = request.get("redirect_uris")
    if uris is None:
        problems.add("redirect_uris", "is required")
        return ()
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        problems.add("redirect_uris", "must be a non-empty array of strings")
        return ()
    if len(uris) > MAX_URIS:
        problems.add("redirect_uris", f"at most {MAX_URIS} are allowed")
    found: list[str] = []
    for uri in dict.fromkeys(uris):
        if len(uri) > MAX_URI_LENGTH:
            problems.add("redirect_uris", f"a URI is longer than {MAX_URI_LENGTH} characters")
            continue
        check_redirect_uri(TableReader({}, "", found), "redirect_uris", uri, dev_mode)
        if profile and profile.redirect_path and not urlsplit(uri).path.endswith(profile.redirect_path):
            problems.add("redirect_uris", f"{uri!r} is not where {profile.name} comes back: "
                                          f"it must end with {profile.redirect_path}")
    for message in found:
        problems.add("redirect_uris", message.removeprefix("redirect_uris: "))
    return tuple(dict.fromkeys(uris))


def _auth_method(request: Mapping[str, Any], profile: Profile | None, problems: _Problems) -> str:
    method = request.get("token_endpoint_auth_method", "client_secret_basic")  # RFC 7591 2
    if method not in AUTH_METHODS:
        problems.add("token_endpoint_auth_method",
                     f"{method!r} is not supported ({', '.join(AUTH_METHODS)})")
    elif profile and profile.auth_methods and method not in profile.auth_methods:
        problems.add("token_endpoint_auth_method", f"the {profile.name} profile authenticates "
                                                   f"with {' or '.join(profile.auth_methods)}")
    return method if isinstance(method, str) else ""


def _string_list(request: Mapping[str, Any], name: str, default: list[str],
                 problems: _Problems) -> list[str] | None:
    value = request.get(name, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.add(name, "must be a non-empty array of strings")
        return None
    return list(dict.fromkeys(value))


def _grant_types(request: Mapping[str, Any], problems: _Problems) -> tuple[str, ...]:
    grants = _string_list(request, "grant_types", ["authorization_code"], problems)
    if grants is None:
        return ()
    for grant in grants:
        if grant not in GRANT_TYPES:
            problems.add("grant_types", f"{grant!r} is not available through registration "
                                        f"({', '.join(GRANT_TYPES)})")
    if "refresh_token" in grants and "authorization_code" not in grants:
        problems.add("grant_types", "refresh_token is only issued alongside authorization_code")
    elif "authorization_code" not in grants:
        problems.add("grant_types", "must include authorization_code")
    return tuple(grants)


def _response_types(request: Mapping[str, Any], grant_types: tuple[str, ...],
                    problems: _Problems) -> tuple[str, ...]:
    """authorization_code goes with the code response type and the other way round (RFC 7591
    2.1); code is the only response type offered."""
    types = _string_list(request, "response_types", ["code"], problems)
    if types is None:
        return ()
    for kind in types:
        if kind != "code":
            problems.add("response_types", f"{kind!r} is not supported: only code")
    if grant_types and ("code" in types) != ("authorization_code" in grant_types):
        problems.add("response_types", "code and the authorization_code grant type go together")
    return tuple(types)


def _scopes(request: Mapping[str, Any], grant_types: tuple[str, ...],
            problems: _Problems) -> tuple[str, ...]:
    scope = request.get("scope", " ".join(DEFAULT_CLIENT_SCOPES))
    if not isinstance(scope, str) or not scope.split():
        problems.add("scope", "must be a non-empty space-separated string")
        return ()
    scopes = tuple(dict.fromkeys(scope.split()))
    for name in scopes:
        if name not in REGISTERABLE_SCOPES:
            problems.add("scope", f"{name!r} is not offered ({' '.join(REGISTERABLE_SCOPES)})")
    if "offline_access" in scopes and "refresh_token" not in grant_types:
        problems.add("scope", "offline_access needs the refresh_token grant type")
    return scopes


def _signing_alg(request: Mapping[str, Any], problems: _Problems) -> str:
    alg = request.get("id_token_signed_response_alg", "RS256")
    if alg not in SUPPORTED_ALGS:
        problems.add("id_token_signed_response_alg",
                     f"{alg!r} is not offered ({', '.join(SUPPORTED_ALGS)})")
    return alg if isinstance(alg, str) else ""


def _extra(request: Mapping[str, Any], profile: Profile | None,
           problems: _Problems) -> dict[str, Any]:
    """Descriptive metadata kept as registered: localised names, https URIs, contacts,
    software id and version, the profile."""
    extra: dict[str, Any] = {}
    for key, value in request.items():
        base, tagged, language = key.partition("#")
        if base not in LOCALISABLE or (base == "client_name" and not tagged):
            continue
        if tagged and not _LANGUAGE_TAG.match(language):
            problems.add(key, f"{language!r} is not a language tag")
        elif base == "client_name" and not _is_text(value):
            problems.add(key, f"must be a non-empty string of at most {MAX_TEXT} characters")
        elif base != "client_name" and not _is_https_url(value):
            problems.add(key, "must be an absolute https URL")
        else:
            extra[key] = value.strip() if base == "client_name" else value
    contacts = request.get("contacts")
    if contacts is not None:
        if (not isinstance(contacts, list) or len(contacts) > 10
                or not all(_is_text(c) for c in contacts)):
            problems.add("contacts", "must be an array of at most 10 short strings")
        else:
            extra["contacts"] = contacts
    for name in ("software_id", "software_version"):
        value = request.get(name)
        if value is not None:
            if _is_text(value):
                extra[name] = value
            else:
                problems.add(name, f"must be a non-empty string of at most {MAX_TEXT} characters")
    if profile is not None:
        extra["campus_profile"] = profile.name
    return extra


def _is_https_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URI_LENGTH or not value.isprintable():
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.netloc) and " " not in value
