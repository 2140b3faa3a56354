"""``[outbound]``: limits of the HTTP calls the provider makes to clients' addresses,
validated like every other section. Private addresses are allowed by default in dev mode only."""

from __future__ import annotations

from idp.settings.model import OutboundSettings
from idp.settings.reader import TableReader


def parse_outbound(r: TableReader, dev_mode: bool) -> OutboundSettings:
    defaults = OutboundSettings()
    settings = OutboundSettings(
        timeout_s=r.number("timeout_s", defaults.timeout_s, minimum=0.5, maximum=60),
        max_bytes=r.integer("max_bytes", defaults.max_bytes, minimum=1024,
                            maximum=16 * 1024 * 1024),
        allow_private=r.boolean("allow_private", dev_mode),
        failure_cache_s=r.integer("failure_cache_s", defaults.failure_cache_s,
                                  minimum=0, maximum=3600),
        min_refetch_s=r.integer("min_refetch_s", defaults.min_refetch_s, minimum=0, maximum=3600),
    )
    r.done()
    return settings
