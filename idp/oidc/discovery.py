"""The provider's metadata (OpenID Connect Discovery 1.0, section 3): exactly what is
supported, nothing more."""

from __future__ import annotations

from typing import Any

from idp.identity.claim_names import CLAIMS_SUPPORTED
from idp.identity.claims import SUPPORTED_SCOPES
from idp.oidc.client_credentials import ServiceGrant
from idp.oidc.client_keys import ASSERTION_ALGS, REQUEST_OBJECT_ALGS
from idp.oidc.grants import RESPONSE_MODES, CodeGrant
from idp.oidc.introspection import Introspection
from idp.oidc.keys import SUPPORTED_ALGS
from idp.oidc.refresh import RefreshGrant
from idp.oidc.revocation import Revocation


def provider_metadata(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "registration_endpoint": f"{issuer}/register",  # RFC 7591; needs an initial access token
        "scopes_supported": [*SUPPORTED_SCOPES, "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        # RFC 9207: every authorization response, success or error, names this issuer.
        "authorization_response_iss_parameter_supported": True,
        "grant_types_supported": [CodeGrant.GRANT_TYPE, RefreshGrant.GRANT_TYPE,
                                  ServiceGrant.GRANT_TYPE],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": list(CodeGrant.TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": list(Introspection.CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": list(Revocation.CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claims_parameter_supported": False,
        # Signed request objects by value (RFC 9101) and pushed requests (RFC 9126); a
        # request_uri is only ever one this provider issued at its PAR endpoint.
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGS),
        "request_uri_parameter_supported": False,
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": False,
        "ui_locales_supported": ["ru", "en"],
        # OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 (no front-channel).
        "end_session_endpoint": f"{issuer}/logout",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
