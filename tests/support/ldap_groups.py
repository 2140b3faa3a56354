"""Groups added to a running demo directory (``ou=groups`` under its suffix), for the admin
group checks; adding one that exists already is no change."""

from __future__ import annotations

import ldap

from demo.slapd import SlapdServer


def add_group(server: SlapdServer, suffix: str, cn: str, members: list[str]) -> str:
    """A groupOfNames ``cn`` whose members are the DNs given; its DN."""
    group_dn = f"cn={cn},ou=groups,{suffix}"
    conn = server.admin_connection()
    try:
        for dn, attrs in [
            (f"ou=groups,{suffix}", [("objectClass", [b"top", b"organizationalUnit"]),
                                     ("ou", [b"groups"])]),
            (group_dn, [("objectClass", [b"top", b"groupOfNames"]), ("cn", [cn.encode()]),
                        ("member", [m.encode() for m in members])]),
        ]:
            try:
                conn.add_s(dn, attrs)
            except ldap.ALREADY_EXISTS:
                pass
    finally:
        conn.unbind_s()
    return group_dn
