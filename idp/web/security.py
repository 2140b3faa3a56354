"""Security headers on every response: a strict CSP without inline script, no framing,
no caching of pages that carry personal data (``Pragma: no-cache`` too, for HTTP/1.0 caches,
as RFC 6749 5.1 asks of token responses), HSTS when the issuer is https."""

from __future__ import annotations

from flask import Flask, Response, request

from idp import context

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:{images}; form-action 'self' {forms}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# form-action must allow the redirect back to the relying party after a form post.
FORM_TARGETS = "http: https:"
CACHEABLE_ENDPOINTS = ("oidc.discovery", "oidc.jwks", "static")
HSTS = "max-age=31536000"


def content_security_policy(images: tuple[str, ...] = ()) -> str:
    """The policy, with the image sources a page needs beyond its own (a relying party's
    logo on the consent page: that one https origin, nothing wider)."""
    return CSP.format(images="".join(" " + source for source in images), forms=FORM_TARGETS)


def init_app(app: Flask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            response.headers.setdefault("Cache-Control", "no-store")
        if "no-store" in response.headers.get("Cache-Control", ""):
            response.headers.setdefault("Pragma", "no-cache")
        # Browsers ignore HSTS over plain http; sent whenever the public address is https,
        # also behind a proxy that terminates TLS without X-Forwarded-Proto.
        if context.settings().server.issuer.startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
