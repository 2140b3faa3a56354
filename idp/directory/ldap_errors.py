"""What python-ldap's errors mean to the directory code: which pass the turn to the next
server, which mean a kept connection went stale, and how one reads in a log line or in the
detail of ``DirectoryUnavailable`` (the server's diagnostic message, where Active Directory
puts its sub-codes, included)."""

from __future__ import annotations

import ldap

# Errors after which the next server is worth a try: no answer, or a server too busy to give one.
TRY_NEXT = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE, ldap.BUSY)


class StaleConnection(Exception):
    """A kept connection found the server gone: worth one more try on new connections."""


def info(exc: ldap.LDAPError) -> str:
    """The server's diagnostic message (AD puts its sub-codes there)."""
    data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return str(data.get("info", ""))


def describe(exc: ldap.LDAPError) -> str:
    data = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc, detail = data.get("desc", type(exc).__name__), data.get("info", "")
    return f"{desc}: {detail}" if detail else str(desc)
