"""The ``idp`` command: check the configuration, migrate the database, register clients, serve.

Every command reads one configuration file (``--config`` or ``IDP_CONFIG``) and exits non-zero,
listing every problem, when it is invalid. ``main`` is the console script (``idp.cli:main``);
each command group lives in a module of its own that imports only ``idp.cli.shared`` and
registers itself there when imported below. A new group gets a new module and a line here.
"""

from __future__ import annotations

from idp.cli import (  # noqa: F401  (each registers its commands on import)
    access,
    backup,
    card,
    clients,
    clients_show,
    config,
    db,
    directory,
    helpdesk,
    keys,
    logout,
    registration_tokens,
    release,
    serve,
    worker,
)
from idp.cli.shared import main

__all__ = ["main"]
