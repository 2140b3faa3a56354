"""``[keys]``: the signing key rotation schedule, validated like every other section."""

from __future__ import annotations

from idp.settings.model import JWKS_MAX_AGE_S, KeySettings
from idp.settings.reader import TableReader


def parse_keys(r: TableReader) -> KeySettings:
    """The activation delay may not be shorter than relying parties cache the JWKS: a key must
    be in every cached copy before it signs."""
    defaults = KeySettings()
    settings = KeySettings(
        activation_delay_s=r.integer("activation_delay_s", defaults.activation_delay_s,
                                     minimum=JWKS_MAX_AGE_S, maximum=30 * 86400),
        retire_margin_s=r.integer("retire_margin_s", defaults.retire_margin_s,
                                  minimum=0, maximum=7 * 86400),
        reload_check_s=r.integer("reload_check_s", defaults.reload_check_s, minimum=1, maximum=60),
    )
    r.done()
    return settings
