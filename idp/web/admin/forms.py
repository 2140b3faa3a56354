"""The client form of the admin UI turned into registration metadata (RFC 7591 names), so
that it is validated by the same rules as dynamic registration, and back again to fill the
form of an existing client."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from werkzeug.datastructures import MultiDict

from idp.oidc.client_metadata import ClientMetadata, parse_client_metadata
from idp.oidc.key_metadata import FetchUris
from idp.oidc.profiles import PROFILES
from idp.storage.clients import Client

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
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
        "organization": client.organization or "",
    }


def new_values() -> dict[str, Any]:
    return {"name": "", "name_ru": "", "redirect_uris": "", "profile": "", "auth_method": "",
            "refresh": False, "scopes": ["openid", "profile", "email", "campus"],
            "event_delivery_uri": "", "organization": ""}


def parse(values: dict[str, Any], *, dev_mode: bool, keep: dict[str, Any] | None = None,
          fetch_sector: FetchUris | None = None) -> tuple[ClientMetadata | None, list[str]]:
    """The metadata, or the problems, each naming its field. ``keep``: registered metadata of
    an existing client that the form does not show (logo, contacts...), kept as it was; a
    pairwise client's kept ``sector_identifier_uri`` is fetched again with ``fetch_sector``."""
    data: dict[str, Any] = {
        k: v for k, v in (keep or {}).items()
        if k not in ("campus_profile", "client_name#ru")
    }
    data["client_name"] = values["name"]
    if values["name_ru"]:
        data["client_name#ru"] = values["name_ru"]
    data["redirect_uris"] = [line.strip() for line in values["redirect_uris"].splitlines()
                             if line.strip()]
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
    if values["event_delivery_uri"]:
        data["event_delivery_uri"] = values["event_delivery_uri"]
    try:
        return parse_client_metadata(data, dev_mode=dev_mode, fetch_sector=fetch_sector), []
    except OAuth2Error as error:
        return None, (error.description or error.error).split("; ")
