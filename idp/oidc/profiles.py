"""Registration profiles: presets for software the universities run, so that its admin does
not have to know which of our settings it needs. A profile fills in the metadata a request
leaves out and narrows what the request may choose.

``moodle`` follows what Moodle's core OAuth 2 login (auth_oauth2, core\\oauth2\\client) does:
it sends the client secret in the token request body unless its "Authenticate token requests
via HTTP headers" switch is on, sends neither PKCE nor a nonce, and comes back to
``<wwwroot>/admin/oauth2callback.php``. See docs/moodle.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    auth_methods: tuple[str, ...] = ()  # empty: whatever the rules allow
    pkce_required: bool = True
    redirect_path: str = ""  # every redirect URI must end with it


MOODLE = Profile(
    name="moodle",
    defaults={
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": "openid profile email campus",
    },
    auth_methods=("client_secret_post", "client_secret_basic"),
    pkce_required=False,
    redirect_path="/admin/oauth2callback.php",
)

PROFILES: dict[str, Profile] = {MOODLE.name: MOODLE}
