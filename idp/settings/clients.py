"""Relying parties and services in the configuration file (``[clients.ID]``), and the checks
every client passes however it is registered: what its grant types need (RFC 6749 4.1, 4.4,
6), what its scopes and redirect URIs may be."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from idp.identity.claim_names import claim_problems
from idp.oidc.key_metadata import static_client_problems
from idp.settings.model import (
    DEFAULT_CLIENT_SCOPES,
    SIGNING_ALGS,
    AccessTokenFormat,
    ClientSettings,
    GrantType,
    PkcePolicy,
    RefreshTokenPolicy,
)
from idp.settings.reader import TableReader

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,64}$")  # RFC 6749 3.3
# RFC 3986 2: the characters a URI consists of (unreserved, reserved and percent-encodings).
# A backslash, quote, space, control character or raw non-ASCII letter is none of them, and
# parsers disagree about such strings (a browser reads a backslash as a slash), so a redirect
# URI that holds one is refused wherever it appears.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def is_uri_text(value: str) -> bool:
    """Whether ``value`` consists only of characters a URI may have (RFC 3986 2)."""
    return _URI_CHARS.fullmatch(value) is not None


def parse_client(table: TableReader, client_id: str, dev_mode: bool) -> ClientSettings:
    r = table.sub(client_id, required=True)
    public = r.boolean("public", False)
    grant_types = grant_types_of(r, "grant_types", r.str_list("grant_types", ["authorization_code"]))
    redirect_uris = r.str_list("redirect_uris", [])
    secret = r.string("client_secret", "", secret=True)
    auth_method = r.string("token_endpoint_auth_method", "")
    if auth_method == "private_key_jwt":
        if secret:
            r.problem("client_secret", "a private_key_jwt client has no secret: it proves its keys")
    elif not public and len(secret) < 16:
        r.problem("client_secret", "a confidential client needs a secret of 16 characters or more")
    if public and secret:
        r.problem("client_secret", "a public client has no secret")
    alg = r.string("id_token_signed_response_alg", "RS256")
    if alg not in SIGNING_ALGS:
        r.problem("id_token_signed_response_alg", f"must be one of {', '.join(SIGNING_ALGS)}")
    client = ClientSettings(
        client_id=client_id,
        name=r.string("name"),
        redirect_uris=redirect_uris,
        client_secret=secret,
        public=public,
        pkce=r.choice("pkce", PkcePolicy, PkcePolicy.REQUIRED),
        trusted=r.boolean("trusted", False),
        id_token_signed_response_alg=alg,
        scopes=r.str_list("scopes", list(DEFAULT_CLIENT_SCOPES)),
        grant_types=grant_types,
        access_token_format=r.choice("access_token_format", AccessTokenFormat,
                                     AccessTokenFormat.OPAQUE),
        access_token_audience=r.string("access_token_audience", ""),
        refresh_token_policy=r.choice("refresh_token_policy", RefreshTokenPolicy,
                                      RefreshTokenPolicy.OFFLINE_ACCESS),
        post_logout_redirect_uris=tuple(r.str_list("post_logout_redirect_uris", [])),
        backchannel_logout_uri=r.string("backchannel_logout_uri", ""),
        event_delivery_uri=r.string("event_delivery_uri", ""),
        roles=tuple(dict.fromkeys(r.str_list("roles", []))),
        release_claims=_release_claims(r),
        logo_uri=_https_link(r, "logo_uri"),
        policy_uri=_https_link(r, "policy_uri"),
        tos_uri=_https_link(r, "tos_uri"),
        token_endpoint_auth_method=auth_method,
        jwks=_jwks(r),
        jwks_uri=r.string("jwks_uri", ""),
        subject_type=r.string("subject_type", "public"),
        sector_identifier_uri=r.string("sector_identifier_uri", ""),
    )
    if public and client.pkce is not PkcePolicy.REQUIRED:
        r.problem("pkce", "a public client must use PKCE: set pkce = \"required\"")
    check_client_capabilities(r, client, dev_mode)
    _check_keys(r, client, dev_mode)
    r.done()
    return client


def _jwks(r: TableReader) -> dict[str, Any] | None:
    """``jwks``: the client's public keys, a table (TOML) or a JSON string (handy in an
    ``IDP__CLIENTS__ID__JWKS`` environment override); None when not given."""
    if "jwks" not in r.data:
        return None
    if not isinstance(r.data["jwks"], str):
        table = r.table("jwks")  # "must be a table" when it is neither
        return dict(table) if isinstance(r.data["jwks"], Mapping) else None
    try:
        value = json.loads(r.string("jwks"))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        r.problem("jwks", "must be a JWK set: a table, or a JSON object, with a keys array")
        return None
    return value


def _check_keys(r: TableReader, client: ClientSettings, dev_mode: bool) -> None:
    """The authentication method, keys and subject type, by the rules of registration."""
    for problem in static_client_problems(client, dev_mode):
        name, _, message = problem.partition(": ")
        r.problem(name, message)


def _release_claims(r: TableReader) -> tuple[str, ...] | None:
    """``release_claims``: the claims the client may receive (docs/claims.md), or None."""
    if "release_claims" not in r.data:
        return None
    names = tuple(dict.fromkeys(r.str_list("release_claims", [])))
    for problem in claim_problems(names):
        r.problem("release_claims", problem)
    return names


def _https_link(r: TableReader, key: str) -> str:
    """A page of the relying party shown on the consent screen: https, absolute, no fragment."""
    value = r.string(key, "")
    parts = urlsplit(value)
    if value and (parts.scheme != "https" or not parts.hostname or parts.fragment
                  or any(ch.isspace() for ch in value)):
        r.problem(key, f"{value!r} must be an absolute https URL")
    return value


def grant_types_of(r: TableReader, key: str, values: tuple[str, ...] | list[str]) -> tuple[GrantType, ...]:
    """Known grant types, each once, in the order given; every unknown one is a problem."""
    known: list[GrantType] = []
    for value in values:
        try:
            grant = GrantType(value)
        except ValueError:
            allowed = ", ".join(g.value for g in GrantType)
            r.problem(key, f"{value!r} is not a supported grant type ({allowed})")
            continue
        if grant not in known:
            known.append(grant)
    if not values:
        r.problem(key, "must not be empty")
    return tuple(known)


def check_client_capabilities(r: TableReader, client: ClientSettings, dev_mode: bool,
                              redirect_key: str = "redirect_uris",
                              logout_key: str = "post_logout_redirect_uris") -> None:
    """What the grant types need (RFC 6749 4.1, 4.4, 6) and what the scopes may be."""
    grants = set(client.grant_types)
    if GrantType.AUTHORIZATION_CODE in grants:
        if not client.redirect_uris:
            r.problem(redirect_key, "the authorization_code grant needs at least one redirect URI")
        for uri in client.redirect_uris:
            check_redirect_uri(r, redirect_key, uri, dev_mode)
    elif client.redirect_uris:
        r.problem(redirect_key, "only a client of the authorization_code grant has redirect URIs")
    check_logout_uris(r, client, dev_mode, logout_key)
    if GrantType.REFRESH_TOKEN in grants and GrantType.AUTHORIZATION_CODE not in grants:
        r.problem("grant_types", "refresh_token is only issued with authorization_code")
    if GrantType.CLIENT_CREDENTIALS in grants and client.public:
        r.problem("grant_types", "client_credentials is for confidential clients only")
    if client.roles and GrantType.CLIENT_CREDENTIALS not in grants:
        r.problem("roles", "only a client of the client_credentials grant has roles")
    if (client.refresh_token_policy is RefreshTokenPolicy.ALWAYS
            and GrantType.REFRESH_TOKEN not in grants):
        r.problem("refresh_token_policy", "\"always\" needs the refresh_token grant type")
    for scope in client.scopes:
        if not _SCOPE_TOKEN.match(scope):
            r.problem("scopes", f"{scope!r} is not a scope token (printable ASCII, no space, "
                                "quote or backslash, 64 characters at most)")
    audience = client.access_token_audience
    if audience and (not urlsplit(audience).scheme or "#" in audience):
        r.problem("access_token_audience", f"{audience!r} must be an absolute URI without fragment")


def check_logout_uris(r: TableReader, client: ClientSettings, dev_mode: bool,
                      logout_key: str = "post_logout_redirect_uris") -> None:
    """Logout and event URIs follow the redirect URI rules; only a client that logs people in
    has them."""
    logs_in = GrantType.AUTHORIZATION_CODE in client.grant_types
    for uri in client.post_logout_redirect_uris:
        check_redirect_uri(r, logout_key, uri, dev_mode)
    if client.backchannel_logout_uri:
        check_redirect_uri(r, "backchannel_logout_uri", client.backchannel_logout_uri, dev_mode)
    if not logs_in and client.post_logout_redirect_uris:
        r.problem(logout_key, "only a client of the authorization_code grant logs people out")
    if not logs_in and client.backchannel_logout_uri:
        r.problem("backchannel_logout_uri",
                  "only a client of the authorization_code grant has sessions to end")
    if client.event_delivery_uri:
        check_redirect_uri(r, "event_delivery_uri", client.event_delivery_uri, dev_mode)
        if not logs_in:
            r.problem("event_delivery_uri",
                      "only a client of the authorization_code grant knows people to hear about")


def check_redirect_uri(r: TableReader, key: str, uri: str, dev_mode: bool) -> None:
    """Absolute, no fragment, https (plain http only to loopback in dev mode)."""
    if not is_uri_text(uri):
        r.problem(key, f"{uri!r} has characters a URI may not have (spaces, quotes, "
                       "backslashes, control characters)")
        return
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        r.problem(key, f"{uri!r} must be an absolute URI")
    elif parts.fragment or "#" in uri:
        r.problem(key, f"{uri!r} must not contain a fragment")
    elif parts.scheme == "http" and not (dev_mode and _is_loopback(parts.hostname)):
        r.problem(key, f"{uri!r} must use https (http only to loopback in dev mode)")
    elif parts.scheme not in ("http", "https"):
        r.problem(key, f"{uri!r} must use https")


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "::1") or bool(host and host.startswith("127."))
