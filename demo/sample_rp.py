"""The demo's sample relying party: a page with a "Log in with Campus ID" button that shows the
ID token claims and the UserInfo it received. Built on Authlib's OAuth client, a code path
independent of the provider's own."""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, redirect, session

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sample relying party</title>
<style>body{{font:16px/1.5 sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f3f4f6;padding:1rem;white-space:pre-wrap;overflow-wrap:anywhere}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style>
</head><body>
<h1>Sample relying party</h1>
<p>A partner service that lets people log in with Campus ID.</p>
<form method="get" action="/login"><button type="submit">Log in with Campus ID</button></form>
{result}
</body></html>"""


def create_rp(issuer: str, client_id: str, client_secret: str, redirect_uri: str,
              ca_file: str | None = None) -> Flask:
    """The relying party's app; ``ca_file``: the CA that the provider's https certificate is
    checked against (the https demo's local CA) instead of the system's."""
    app = Flask(__name__)
    app.secret_key = secrets.token_urlsafe(32)
    # The provider sets its own cookie on the same host: browsers do not separate ports.
    app.config["SESSION_COOKIE_NAME"] = "sample_rp"
    oauth = OAuth(app)
    campus = oauth.register(
        "campus",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email campus", "code_challenge_method": "S256"},
    )
    if ca_file:
        # Every request of the client (discovery, JWKS, token, UserInfo) goes through a session
        # of this class.
        campus.client_cls = _trusting(ca_file)

    @app.get("/")
    def home() -> str:
        return PAGE.format(result=_result(session.get("result")))

    @app.get("/login")
    def login() -> Any:
        return oauth.campus.authorize_redirect(redirect_uri)

    @app.get("/callback")
    def callback() -> Any:
        token = oauth.campus.authorize_access_token()
        userinfo = oauth.campus.userinfo(token=token)
        session["result"] = {"id_token_claims": dict(token["userinfo"]), "userinfo": dict(userinfo)}
        return redirect("/")

    return app


def _trusting(ca_file: str) -> type[OAuth2Session]:
    class TrustingSession(OAuth2Session):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.verify = ca_file
            self.trust_env = False  # an environment CA bundle would override ``verify``

    return TrustingSession


def _result(result: dict[str, Any] | None) -> str:
    if not result:
        return "<p>Not logged in yet.</p>"
    parts = []
    for title, key in (("ID token claims", "id_token_claims"), ("UserInfo", "userinfo")):
        body = html.escape(json.dumps(result[key], ensure_ascii=False, indent=2, sort_keys=True))
        parts.append(f'<h2>{title}</h2><pre id="{key}">{body}</pre>')
    return "\n".join(parts)
