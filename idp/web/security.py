"""Security headers on every response: a strict CSP without inline script, no framing,
no caching of pages that carry personal data, HSTS when served over https."""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' {forms}; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        # form-action must allow the redirect back to the relying party after a form post.
        response.headers.setdefault("Content-Security-Policy", CSP.format(forms="http: https:"))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint not in ("oidc.discovery", "oidc.jwks", "static"):
            response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
