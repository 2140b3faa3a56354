"""``[metrics]``: whether ``/metrics`` is served and how it is protected, validated like every
other section. Enabled metrics are never public: a bearer token (``token`` or ``token_file``),
a separate ``listen`` address, or both."""

from __future__ import annotations

from idp.settings.model import MetricsSettings
from idp.settings.reader import TableReader

MIN_TOKEN = 32


def parse_metrics(r: TableReader) -> MetricsSettings:
    settings = MetricsSettings(
        enabled=r.boolean("enabled", False),
        token=r.string("token", "", secret=True),
        listen=r.string("listen", ""),
        multiprocess_dir=r.string("multiprocess_dir", ""),
    )
    if settings.token and len(settings.token) < MIN_TOKEN:
        r.problem("token", f"must be at least {MIN_TOKEN} characters")
    if settings.listen and listen_address(settings.listen) is None:
        r.problem("listen", f"{settings.listen!r} is not HOST:PORT (a port from 1 to 65535; "
                  "an IPv6 address in brackets)")
    if settings.enabled and not settings.token and not settings.listen:
        r.problem("enabled", "metrics would be public: set token (or token_file), or listen "
                  "for a separate address, or both")
    r.done()
    return settings


def listen_address(value: str) -> tuple[str, int] | None:
    """``("127.0.0.1", 9464)`` for ``"127.0.0.1:9464"``, ``("::1", 9464)`` for
    ``"[::1]:9464"``; None when ``value`` is not one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            return None
        host = host[1:-1]
    elif ":" in host:
        return None
    return host, int(port)
