"""Security headers on every response: a strict CSP without inline script, no framing,
no caching of pages that carry personal data (``Pragma: no-cache`` too, for HTTP/1.0 caches,
as RFC 6749 5.1 asks of token responses), HSTS when the issuer is https."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from idp import context

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:{images}; form-action 'self' {forms}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# form-action must allow the redirect back to the relying party after a form post.
FORM_TARGETS = "http: https:"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]
HSTS = "max-age=31536000"


def content_security_policy(images: tuple[str, ...] = (), scripts: bool = False) -> str:
    """The policy, with the image sources a page needs beyond its own (a relying party's
    logo on the consent page: that one https origin, nothing wider); ``scripts``: the page's
    own script files and fetches to its own origin (My Campus ID renewing a pass), never inline."""
    policy = CSP.format(images="".join(" " + source for source in images), forms=FORM_TARGETS)
    return policy + "; script-src 'self'; connect-src 'self'" if scripts else policy


def init_app(app: Flask) -> None:
    hsts = context.services_of(app).settings.server.issuer.startswith("https://")
    always = [("Content-Security-Policy", content_security_policy()),
              ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
              ("Referrer-Policy", "no-referrer")]
    # Browsers ignore HSTS over plain http; sent whenever the public address is https,
    # also behind a proxy that terminates TLS without X-Forwarded-Proto.
    if hsts:
        always.append(("Strict-Transport-Security", HSTS))
    app.wsgi_app = SecurityHeaders(app.wsgi_app, always)  # type: ignore[method-assign]


class SecurityHeaders:
    """Adds the headers a response did not set itself, as WSGI middleware: it sees every
    response (an unhandled error's too) and works on the plain header list, which costs a
    fraction of Werkzeug's header object in an after_request hook on every request.

    A response that sets its own Cache-Control (discovery, JWKS, static files) keeps it;
    every other one is ``no-store``, with ``Pragma: no-cache`` for HTTP/1.0 caches."""

    def __init__(self, wsgi_app: WsgiApp, always: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.always = [(name.lower(), (name, value)) for name, value in always]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower(): value for name, value in headers}
            extra = [header for lower, header in self.always if lower not in present]
            cache_control = present.get("cache-control")
            if cache_control is None:
                extra.append(("Cache-Control", "no-store"))
                cache_control = "no-store"
            if "no-store" in cache_control and "pragma" not in present:
                extra.append(("Pragma", "no-cache"))
            return start_response(status, headers + extra, exc_info)
        return self.wsgi_app(environ, start)
