"""The client form of the admin UI turned into registration metadata (RFC 7591 names), so
that it is validated by the same rules as dynamic registration, and back again to fill the
form of an existing client. Saving an existing client's form unchanged changes nothing: every
field the form shows is filled from the stored client (logout addresses and the key set's
address included), and what it does not show is kept as registered."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from werkzeug.datastructures import MultiDict

from idp.oidc.client_metadata import ClientMetadata, parse_client_metadata
from idp.oidc.key_metadata import FetchUris
from idp.oidc.profiles import PROFILES
from idp.storage.clients import Client

SCOPES = ("openid", "profile", "email", "campus", "offline_access")


def form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """What the person typed, to show the form again unchanged after an error."""
    return {
        "name": form.get("name", "").strip(),
        "name_ru": form.get("name_ru", "").strip(),
        "redirect_uris": form.get("redirect_uris", ""),
        "profile": form.get("profile", ""),
        "auth_method": form.get("auth_method", ""),
        "refresh": form.get("refresh") == "on",
        "scopes": [s for s in form.getlist("scope") if s in SCOPES],
        "event_delivery_uri": form.get("event_delivery_uri", "").strip(),
        "jwks_uri": form.get("jwks_uri", "").strip(),
        "post_logout_redirect_uris": form.get("post_logout_redirect_uris", ""),
        "backchannel_logout_uri": form.get("backchannel_logout_uri", "").strip(),
        "backchannel_logout_session_required":
            form.get("backchannel_logout_session_required") == "on",
        "organization": form.get("organization", ""),
    }


def client_values(client: Client) -> dict[str, Any]:
    metadata = client.registered_metadata or {}
    return {
        "name": client.name,
        "name_ru": metadata.get("client_name#ru", ""),
        "redirect_uris": "\n".join(client.redirect_uris),
        "profile": metadata.get("campus_profile", ""),
        "auth_method": client.token_endpoint_auth_method,
        "refresh": "refresh_token" in client.grant_types,
        "scopes": list(client.scopes),
        "event_delivery_uri": client.event_delivery_uri or "",
        "jwks_uri": client.jwks_uri or "",
        "post_logout_redirect_uris": "\n".join(client.post_logout_redirect_uris or ()),
        "backchannel_logout_uri": client.backchannel_logout_uri or "",
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "organization": client.organization or "",
    }


def new_values() -> dict[str, Any]:
    return {"name": "", "name_ru": "", "redirect_uris": "", "profile": "", "auth_method": "",
            "refresh": False, "scopes": ["openid", "profile", "email", "campus"],
            "event_delivery_uri": "", "jwks_uri": "", "post_logout_redirect_uris": "",
            "backchannel_logout_uri": "", "backchannel_logout_session_required": False,
            "organization": ""}


def parse(values: dict[str, Any], *, dev_mode: bool, keep: dict[str, Any] | None = None,
          fetch_sector: FetchUris | None = None) -> tuple[ClientMetadata | None, list[str]]:
    """The metadata, or the problems, each naming its field. ``keep``: registered metadata of
    an existing client that the form does not show (logo, contacts...), kept as it was; a
    pairwise client's kept ``sector_identifier_uri`` is fetched again with ``fetch_sector``."""
    data: dict[str, Any] = {k: v for k, v in (keep or {}).items() if k not in _SHOWN}
    data["client_name"] = values["name"]
    if values["name_ru"]:
        data["client_name#ru"] = values["name_ru"]
    data["redirect_uris"] = _lines(values["redirect_uris"])
    if values["profile"]:
        data["campus_profile"] = values["profile"]
    if values["auth_method"]:
        data["token_endpoint_auth_method"] = values["auth_method"]
    elif not values["profile"] or values["profile"] not in PROFILES:
        data["token_endpoint_auth_method"] = "client_secret_basic"
    if values["refresh"]:
        data["grant_types"] = ["authorization_code", "refresh_token"]
    elif not values["profile"]:
        data["grant_types"] = ["authorization_code"]
    if values["scopes"]:
        data["scope"] = " ".join(values["scopes"])
    for name in ("event_delivery_uri", "jwks_uri", "backchannel_logout_uri"):
        if values[name]:
            data[name] = values[name]
    post_logout = _lines(values["post_logout_redirect_uris"])
    if post_logout:
        data["post_logout_redirect_uris"] = post_logout
    if values["backchannel_logout_session_required"]:
        data["backchannel_logout_session_required"] = True
    try:
        return parse_client_metadata(data, dev_mode=dev_mode, fetch_sector=fetch_sector), []
    except OAuth2Error as error:
        return None, (error.description or error.error).split("; ")


# Registered fields the form shows: the form's value replaces the kept one (empty removes it).
_SHOWN = frozenset({"campus_profile", "client_name#ru", "jwks_uri", "post_logout_redirect_uris",
                    "backchannel_logout_uri", "backchannel_logout_session_required"})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
