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
    hsts = context.services_of(app).settings.server.issuer.startswith("https://")
    # Built once: a response only adds those its view did not set itself.
    # form-action must allow the redirect back to the relying party after a form post.
    always = [("Content-Security-Policy", content_security_policy()),
              ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
              ("Referrer-Policy", "no-referrer")]
    # Browsers ignore HSTS over plain http; sent whenever the public address is https,
    # also behind a proxy that terminates TLS without X-Forwarded-Proto.
    if hsts:
        always.append(("Strict-Transport-Security", HSTS))

    @app.after_request
    def headers(response: Response) -> Response:
        present = {key.lower() for key in response.headers.keys()}
        missing = [(key, value) for key, value in always if key.lower() not in present]
        cache_control = response.headers.get("Cache-Control", "")
        if request.endpoint not in CACHEABLE_ENDPOINTS and "cache-control" not in present:
            missing.append(("Cache-Control", "no-store"))
            cache_control = "no-store"
        if "no-store" in cache_control and "pragma" not in present:
            missing.append(("Pragma", "no-cache"))
        response.headers.extend(missing)
        return response
