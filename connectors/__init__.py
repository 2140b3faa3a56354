"""Downstream connectors that deliver access grants; the contract is in ``connectors.base``,
the types in ``connectors.registry``. Nothing here imports ``idp``."""
