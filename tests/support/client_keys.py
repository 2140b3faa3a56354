"""A relying party's own keys as tests need them: key pairs of each algorithm, client
assertions (RFC 7523) and request objects (RFC 9101) signed with them, and a small HTTP server
on loopback that plays the client's jwks_uri or sector_identifier_uri."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from idp.oidc.client_assertions import ASSERTION_TYPE

ISSUER = "https://id.campus.test"
AnyKey = ECKey | RSAKey | OKPKey


def make_key(alg: str = "ES256", kid: str | None = None) -> AnyKey:
    params = {"kid": kid or secrets.token_hex(4), "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", parameters=params)
    return RSAKey.generate_key(2048, parameters=params)


def public_jwks(*keys: AnyKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def sign(key: AnyKey | None, claims: dict[str, Any], alg: str | None = None,
         **header: Any) -> str:
    """A compact JWT; ``key=None`` with ``alg="none"`` makes an unsigned one by hand."""
    if key is None:
        def b64(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        return f"{b64({'alg': 'none', **header})}.{b64(claims)}."
    use = alg or str(key.alg)
    return jwt.encode({"alg": use, "kid": key.kid, **header}, claims, key, algorithms=[use])


def assertion_claims(client_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": now, "exp": now + 60,
              "jti": secrets.token_urlsafe(16)}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def assertion_form(key: AnyKey | None, client_id: str, *, alg: str | None = None,
                   **changes: Any) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE,
            "client_assertion": sign(key, assertion_claims(client_id, **changes), alg)}


def request_object(key: AnyKey | None, sender: str, params: dict[str, str], *,
                   alg: str | None = None, **changes: Any) -> str:
    """Signed by ``sender`` for this provider; ``changes`` replace or (None) drop claims."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": sender, "aud": ISSUER, "client_id": sender,
                              "iat": now, "exp": now + 120, **params}
    claims.update(changes)
    return sign(key, {k: v for k, v in claims.items() if v is not None}, alg,
                typ="oauth-authz-req+jwt")


class JsonServer:
    """Serves JSON documents by path on 127.0.0.1 and counts the requests for each."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path not in server.documents:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(server.documents[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, document: Any) -> str:
        self.documents[path] = document
        return self.url(path)


@contextmanager
def json_server() -> Iterator[JsonServer]:
    server = JsonServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
