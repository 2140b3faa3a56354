"""The consent page: the attributes a relying party will actually receive once its release
policy is applied (not merely the scopes it asked for), in words, with the relying party's
localised name, logo, privacy policy and terms from its registered metadata.

Only https addresses from the metadata are shown (RFC 7591 2 requires https for them; static
clients go through the same check). The logo is loaded from the relying party's own origin,
which this page alone adds to the CSP's ``img-src``; ``Referrer-Policy: no-referrer`` keeps
the authorization request out of that fetch.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Response, make_response, render_template

from idp import context
from idp.identity.claim_names import RELEASABLE_CLAIMS
from idp.identity.release import released_claims
from idp.storage.clients import Client
from idp.storage.identities import Identity
from idp.web.i18n import current_language
from idp.web.security import content_security_policy

SHOWN_IN_ORDER = ("sub", *RELEASABLE_CLAIMS)  # email_verified is part of email


def released_attributes(client: Client, identity: Identity, scopes: Iterable[str]) -> list[str]:
    """The claim names this client will receive about this person, in display order."""
    claims = released_claims(context.settings(), client, identity, scopes,
                             context.release_policies(client.id))
    return [name for name in SHOWN_IN_ORDER if name in claims]


def https_metadata(client: Client, field: str, language: str) -> str | None:
    """``field#language`` or ``field`` from the registered metadata, when it is an https URL."""
    metadata = client.registered_metadata or {}
    for key in (f"{field}#{language}", field):
        value = metadata.get(key)
        if isinstance(value, str) and _is_https(value):
            return value
    return None


def render(client: Client, identity: Identity, scopes: set[str]) -> Response:
    language = current_language()
    logo = https_metadata(client, "logo_uri", language)
    response = make_response(render_template(
        "consent.html", client=client, attributes=released_attributes(client, identity, scopes),
        offline="offline_access" in scopes, logo_uri=logo,
        policy_uri=https_metadata(client, "policy_uri", language),
        tos_uri=https_metadata(client, "tos_uri", language)))
    if logo:
        origin = "https://" + urlsplit(logo).netloc.rsplit("@", 1)[-1]
        response.headers["Content-Security-Policy"] = content_security_policy(images=(origin,))
    return response


def _is_https(value: str) -> bool:
    parts = urlsplit(value)
    return (parts.scheme == "https" and bool(parts.hostname) and not any(
        ch.isspace() or ch in "'\";," for ch in parts.netloc))
