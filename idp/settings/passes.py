"""``[pass]``: the lifetime of a signed sports or culture pass and of the revocation list a
verifier caches, validated like every other section."""

from __future__ import annotations

from idp.settings.model import PassSettings
from idp.settings.reader import TableReader


def parse_pass(r: TableReader) -> PassSettings:
    defaults = PassSettings()
    settings = PassSettings(
        lifetime_s=r.integer("lifetime_s", defaults.lifetime_s, minimum=60, maximum=3600),
        revocation_ttl_s=r.integer("revocation_ttl_s", defaults.revocation_ttl_s,
                                   minimum=10, maximum=3600),
    )
    r.done()
    return settings
