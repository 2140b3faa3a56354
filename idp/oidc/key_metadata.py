"""Client metadata about keys and subjects, checked the same way for a registration (RFC 7591),
for ``idp clients create`` and for the configuration file's clients (``idp.settings.clients``):
``jwks`` / ``jwks_uri`` (exactly one, and one of them for private_key_jwt),
``request_object_signing_alg``, and the sector of a ``pairwise`` client (OpenID Connect Core
8.1), fetched from its ``sector_identifier_uri`` when it has one.

Each check returns problem messages without the field name; the caller names the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.identity.subjects import host_of, sector_of_redirect_uris
from idp.oidc import outbound
from idp.oidc.client_keys import REQUEST_OBJECT_ALGS, ClientKeysError, parse_jwks
from idp.settings.model import ClientSettings, OutboundSettings
from idp.storage.clients import PAIRWISE_SUBJECT, PRIVATE_KEY_JWT, PUBLIC_SUBJECT, Client

log = logging.getLogger(__name__)

SUBJECT_TYPES = (PUBLIC_SUBJECT, PAIRWISE_SUBJECT)
# How ``idp clients create`` and a static client may authenticate at the token endpoint.
CLI_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
MAX_KEYS = 10
# The one answer to every failure: an address filter must not tell what it found behind.
SECTOR_UNUSABLE = ("could not be used: it must answer, from a public address and in time, "
                   "a JSON array of the redirect URIs")

FetchUris = Callable[[str], list[str]]


class SectorFetchError(Exception):
    """The sector_identifier_uri could not be read as a JSON array of URIs."""


@dataclass(frozen=True)
class KeyMetadata:
    jwks: dict[str, Any] | None = None
    jwks_uri: str = ""
    request_object_signing_alg: str = ""
    subject_type: str = PUBLIC_SUBJECT
    sector_identifier_uri: str = ""
    require_pushed_authorization_requests: bool = False


def jwks_problems(jwks: object) -> list[str]:
    if not isinstance(jwks, dict):
        return ["must be a JWK set: an object with a keys array"]
    keys = jwks.get("keys")
    if isinstance(keys, list) and len(keys) > MAX_KEYS:
        return [f"at most {MAX_KEYS} keys are allowed"]
    try:
        parse_jwks(jwks)
    except ClientKeysError as error:
        return [str(error).replace("The client's JWK set", "the set")]
    if isinstance(keys, list) and len(keys) > 1 and not all(
            isinstance(k, dict) and isinstance(k.get("kid"), str) and k["kid"] for k in keys):
        return ["every key needs a kid when there are several"]
    return []


def jwks_uri_problems(uri: object, dev_mode: bool) -> list[str]:
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        return ["must be an absolute https URL"]
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.netloc and "#" not in uri:
        return []
    if dev_mode and parts.scheme == "http" and parts.netloc and "#" not in uri:
        return []
    return ["must be an absolute https URL without fragment (http only in dev mode)"]


def key_problems(meta: KeyMetadata, auth_method: str, dev_mode: bool) -> dict[str, list[str]]:
    """Problems by field name."""
    found: dict[str, list[str]] = {}
    if meta.jwks is not None and meta.jwks_uri:
        found.setdefault("jwks", []).append("give jwks or jwks_uri, not both")
    elif meta.jwks is not None:
        found["jwks"] = jwks_problems(meta.jwks)
    elif meta.jwks_uri:
        found["jwks_uri"] = jwks_uri_problems(meta.jwks_uri, dev_mode)
    elif auth_method == PRIVATE_KEY_JWT:
        found["jwks"] = ["private_key_jwt needs the client's public keys: jwks or jwks_uri"]
    alg = meta.request_object_signing_alg
    if alg and alg not in REQUEST_OBJECT_ALGS:
        found["request_object_signing_alg"] = [
            f"{alg!r} is not accepted ({', '.join(REQUEST_OBJECT_ALGS)}; never none)"]
    if alg and meta.jwks is None and not meta.jwks_uri:
        found.setdefault("request_object_signing_alg", []).append(
            "signed request objects need the client's public keys: jwks or jwks_uri")
    return {name: problems for name, problems in found.items() if problems}


def parse_key_metadata(request: Mapping[str, Any], auth_method: str,
                       dev_mode: bool) -> tuple[KeyMetadata, dict[str, list[str]]]:
    """The fields of a registration request (RFC 7591 2), and their problems by field."""
    found: dict[str, list[str]] = {}
    strings = {}
    for name in ("jwks_uri", "request_object_signing_alg", "sector_identifier_uri"):
        value = request.get(name, "")
        if not isinstance(value, str):
            found[name] = ["must be a string"]
            value = ""
        strings[name] = value
    subject_type = request.get("subject_type", PUBLIC_SUBJECT)
    if not isinstance(subject_type, str):
        found["subject_type"] = ["must be public or pairwise"]
        subject_type = PUBLIC_SUBJECT
    require_par = request.get("require_pushed_authorization_requests", False)
    if not isinstance(require_par, bool):
        found["require_pushed_authorization_requests"] = ["must be true or false"]
        require_par = False
    jwks = request.get("jwks")
    meta = KeyMetadata(jwks=jwks if isinstance(jwks, dict) else None,
                       jwks_uri=strings["jwks_uri"],
                       request_object_signing_alg=strings["request_object_signing_alg"],
                       subject_type=subject_type,
                       sector_identifier_uri=strings["sector_identifier_uri"],
                       require_pushed_authorization_requests=require_par)
    if jwks is not None and not isinstance(jwks, dict):
        found["jwks"] = ["must be a JWK set: an object with a keys array"]
        return meta, found
    for name, messages in key_problems(meta, auth_method, dev_mode).items():
        found.setdefault(name, []).extend(messages)
    return meta, found


def fetch_sector_uris(uri: str, limits: OutboundSettings) -> list[str]:
    """Section 8.1: the sector_identifier_uri holds a JSON array of redirect URIs. Fetched
    through ``idp.oidc.outbound``; every failure gives the same message (the reason is logged)."""
    try:
        answer = outbound.call("GET", uri, limits, headers={"Accept": "application/json"})
        if answer.status != 200:
            raise outbound.OutboundError(f"answered HTTP {answer.status}")
        data = json.loads(answer.body)
        if not isinstance(data, list) or not all(isinstance(u, str) for u in data):
            raise outbound.OutboundError("does not hold a JSON array of strings")
    except (outbound.OutboundError, ValueError) as error:
        log.warning("sector_identifier_uri %s could not be used: %s", uri, error)
        raise SectorFetchError(SECTOR_UNUSABLE) from None
    return data


def sector_fetcher(limits: OutboundSettings) -> FetchUris:
    """``fetch_sector_uris`` under the configured ``[outbound]`` limits."""
    return lambda uri: fetch_sector_uris(uri, limits)


def sector_identifier(subject_type: str, redirect_uris: Sequence[str], sector_uri: str,
                      dev_mode: bool, fetch: FetchUris | None = None,
                      ) -> tuple[str | None, dict[str, list[str]]]:
    """The sector a pairwise client's subjects are computed for, or the problems by field.
    ``fetch`` defaults to the default ``[outbound]`` limits (private addresses in dev mode)."""
    fetch = fetch or sector_fetcher(OutboundSettings(allow_private=dev_mode))
    if subject_type not in SUBJECT_TYPES:
        return None, {"subject_type": [f"must be one of {', '.join(SUBJECT_TYPES)}"]}
    if subject_type == PUBLIC_SUBJECT:
        if sector_uri:
            return None, {"sector_identifier_uri": ["is only for a pairwise client"]}
        return None, {}
    if not sector_uri:
        sector = sector_of_redirect_uris(redirect_uris)
        if sector is None:
            return None, {"sector_identifier_uri": [
                "is required: the redirect URIs have several hosts (or none)"]}
        return sector, {}
    parts = urlsplit(sector_uri)
    if not (parts.scheme == "https" or (dev_mode and parts.scheme == "http")) or not parts.netloc:
        return None, {"sector_identifier_uri": ["must be an absolute https URL"]}
    try:
        listed = fetch(sector_uri)
    except SectorFetchError as error:
        return None, {"sector_identifier_uri": [str(error)]}
    missing = [uri for uri in redirect_uris if uri not in listed]
    if missing:
        return None, {"sector_identifier_uri": [
            f"does not list every redirect URI (missing: {', '.join(missing)})"]}
    return host_of(sector_uri), {}


KEY_FIELDS = ("jwks", "jwks_uri", "request_object_signing_alg", "subject_type",
              "sector_identifier_uri", "require_pushed_authorization_requests")


def as_registered(meta: KeyMetadata) -> dict[str, Any]:
    """The fields as a registration request would give them (defaults left out)."""
    values: dict[str, Any] = {
        "jwks": meta.jwks, "jwks_uri": meta.jwks_uri,
        "request_object_signing_alg": meta.request_object_signing_alg,
        "subject_type": meta.subject_type if meta.subject_type != PUBLIC_SUBJECT else None,
        "sector_identifier_uri": meta.sector_identifier_uri,
        "require_pushed_authorization_requests": meta.require_pushed_authorization_requests,
    }
    return {name: value for name, value in values.items() if value}


def apply_key_metadata(client: Client, meta: KeyMetadata, sector: str | None) -> None:
    """Copy checked metadata onto the stored client. The registered values also join the
    client's registered metadata, so that an edit which resends it (the admin UI) keeps them."""
    registered = {k: v for k, v in (client.registered_metadata or {}).items()
                  if k not in KEY_FIELDS}
    client.registered_metadata = {**registered, **as_registered(meta)}
    client.jwks = dict(meta.jwks) if meta.jwks is not None else None
    client.jwks_uri = meta.jwks_uri or None
    client.request_object_signing_alg = meta.request_object_signing_alg or None
    client.require_pushed_authorization_requests = meta.require_pushed_authorization_requests
    client.subject_type = meta.subject_type
    client.sector_identifier = sector if meta.subject_type == PAIRWISE_SUBJECT else None


def key_information(client: Client) -> dict[str, Any]:
    """What a client information response (RFC 7591 3.2.1) says of these."""
    body: dict[str, Any] = {"subject_type": client.subject_type}
    if client.jwks is not None:
        body["jwks"] = client.jwks
    if client.jwks_uri:
        body["jwks_uri"] = client.jwks_uri
    if client.request_object_signing_alg:
        body["request_object_signing_alg"] = client.request_object_signing_alg
    if client.require_pushed_authorization_requests:
        body["require_pushed_authorization_requests"] = True
    return body


def key_metadata_problems(problems: list[str], keys: KeyMetadata, method: str | None,
                          public: bool, spec: ClientSettings, dev_mode: bool,
                          fetch: FetchUris | None) -> str | None:
    """Adds the problems of the authentication method, keys and subject type (the rules of
    registration, ``idp.oidc.key_metadata``) as ``field: message``; returns the sector of a
    pairwise client. For ``idp clients create`` and the configuration file's clients."""
    if method is not None and method not in CLI_AUTH_METHODS:
        problems.append(f"token_endpoint_auth_method: must be one of {', '.join(CLI_AUTH_METHODS)}")
    if method is not None and public:
        problems.append("token_endpoint_auth_method: a public client authenticates with none")
    for name, messages in key_problems(keys, method or "", dev_mode).items():
        problems.extend(f"{name}: {message}" for message in messages)
    sector, found = sector_identifier(keys.subject_type, spec.redirect_uris,
                                      keys.sector_identifier_uri, dev_mode, fetch)
    for name, messages in found.items():
        problems.extend(f"{name}: {message}" for message in messages)
    return sector


def static_client_keys(spec: ClientSettings) -> KeyMetadata:
    """A static client's keys and subject type, as registration metadata."""
    return KeyMetadata(jwks=dict(spec.jwks) if spec.jwks is not None else None,
                       jwks_uri=spec.jwks_uri, subject_type=spec.subject_type,
                       sector_identifier_uri=spec.sector_identifier_uri)


def static_sector_listing(spec: ClientSettings) -> FetchUris:
    """A static client's ``sector_identifier_uri`` is not fetched: its sector is that URI's
    host. Registration fetches it to stop a registrant from claiming another party's sector
    (OpenID Connect Core 8.1); the operator who writes the redirect URIs and the sector in
    the file is no such stranger, and a start must not wait on a remote server."""
    return lambda _uri: list(spec.redirect_uris)


def static_client_problems(spec: ClientSettings, dev_mode: bool) -> list[str]:
    """What is wrong with a static client's ``token_endpoint_auth_method``, ``jwks``,
    ``jwks_uri``, ``subject_type`` and ``sector_identifier_uri``, as ``field: message``, by
    the same rules as a registration (checked when the settings are read)."""
    problems: list[str] = []
    key_metadata_problems(problems, static_client_keys(spec),
                          spec.token_endpoint_auth_method or None, spec.public, spec, dev_mode,
                          static_sector_listing(spec))
    return problems
