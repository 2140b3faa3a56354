"""Reading ``[roles]`` (staff roles by account), ``[admin]`` (the admin web UI) and
``[helpdesk]`` (the helpdesk console); each account must name a configured organization and a
username, ``org:username``."""

from __future__ import annotations

from collections.abc import Mapping

from idp.settings.model import (
    AdminSettings,
    HelpdeskSettings,
    OrganizationSettings,
    RolesSettings,
)
from idp.settings.reader import TableReader

MAX_USERNAME = 256


def parse_roles(r: TableReader, organizations: Mapping[str, OrganizationSettings]) -> RolesSettings:
    roles = RolesSettings(
        consortium_admin=_accounts(r, "consortium_admin", organizations),
        org_admin=_accounts(r, "org_admin", organizations),
        helpdesk=_accounts(r, "helpdesk", organizations),
        org_helpdesk=_accounts(r, "org_helpdesk", organizations),
    )
    r.done()
    return roles


def _accounts(r: TableReader, name: str,
              organizations: Mapping[str, OrganizationSettings]) -> tuple[str, ...]:
    accounts = r.str_list(name, [])
    for account in accounts:
        org, sep, username = account.partition(":")
        if not sep or not username or len(username) > MAX_USERNAME:
            r.problem(name, f"{account!r} is not an account: write org:username, e.g. tpu:ivanov")
        elif org not in organizations:
            r.problem(name, f"{account!r}: {org!r} is not a configured organization")
    return tuple(dict.fromkeys(accounts))


def parse_admin(r: TableReader) -> AdminSettings:
    settings = AdminSettings(
        secret_rotation_overlap_s=r.integer("secret_rotation_overlap_s", 7 * 86400,
                                            minimum=0, maximum=90 * 86400),
    )
    r.done()
    return settings


def parse_helpdesk(r: TableReader) -> HelpdeskSettings:
    settings = HelpdeskSettings(
        session_minutes=r.integer("session_minutes", 30, minimum=1, maximum=24 * 60),
    )
    r.done()
    return settings
