"""Group membership read from a directory: is this account a member of that group?

One base search on the group entry with a filter naming the account; every value put into
the filter is escaped (RFC 4515). ``member`` / ``uniqueMember`` hold the account's DN
(groupOfNames, groupOfUniqueNames, Active Directory groups), ``memberUid`` its username
(posixGroup). Active Directory also answers for nested groups through its in-chain
matching rule.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
import ldap.filter

log = logging.getLogger(__name__)
# LDAP_MATCHING_RULE_IN_CHAIN: Active Directory follows nested group memberships.
AD_IN_CHAIN = "1.2.840.113556.1.4.1941"


def membership_filter(dn: str, username: str, *, active_directory: bool) -> str:
    """The filter that matches the group entry when the account is one of its members."""
    dn_value = ldap.filter.escape_filter_chars(dn)
    uid_value = ldap.filter.escape_filter_chars(username)
    member = f"(member:{AD_IN_CHAIN}:={dn_value})" if active_directory else f"(member={dn_value})"
    return f"(|{member}(uniqueMember={dn_value})(memberUid={uid_value}))"


def has_member(conn: Any, group_dn: str, dn: str, username: str, *,
               active_directory: bool) -> bool:
    """Whether ``group_dn`` lists the account; a group that does not exist (or that the service
    account cannot read) has no members, and says so in the log."""
    filterstr = membership_filter(dn, username, active_directory=active_directory)
    try:
        found = conn.search_ext_s(group_dn, ldap.SCOPE_BASE, filterstr, ["1.1"], sizelimit=1)
    except ldap.NO_SUCH_OBJECT:
        log.warning("admin group %r does not exist or the service account cannot read it",
                    group_dn)
        return False
    return any(entry_dn is not None for entry_dn, _attrs in found)
