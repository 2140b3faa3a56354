"""Changing a relying party's release policy, for the CLI, the configuration file and the
admin UI alike: every name and the organization are checked, then ``idp.storage.release``
writes the change and its audit event in the caller's transaction (nothing is committed here).

    change_release(db, client, ["name", "email"], organizations=settings.organizations,
                   actor="cli")                     # the consortium's default for the client
    change_release(db, client, ["email"], organization="tpu", ...)   # tpu narrows it
    change_release(db, client, None, organization="tpu", ...)        # tpu no longer narrows
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.errors import ConfigError
from idp.identity.claim_names import RELEASABLE_CLAIMS, claim_problems
from idp.storage.clients import Client
from idp.storage.release import CONSORTIUM, policies_of, set_by, set_release

CONFIG = "config"  # the source of static clients, and the actor of what the file sets
# What Moodle's OAuth 2 login cannot do without: the username it maps and an email address.
MOODLE_NEEDS = frozenset({"campus_id", "email"})


@dataclass(frozen=True)
class ReleaseLevel:
    """One level of a client's policy as shown to an admin; ``claims`` None: no restriction."""

    organization: str  # "" for the consortium's default
    claims: tuple[str, ...] | None


def change_release(db: Session, client: Client, claims: Iterable[str] | None, *,
                   organizations: Collection[str], organization: str = CONSORTIUM,
                   actor: str) -> bool:
    """Set one level (None removes it). Raises ``ConfigError`` listing every problem, and then
    changes nothing. Returns whether the stored policy changed."""
    names = list(dict.fromkeys(claims)) if claims is not None else None
    problems = [f"claims: {p}" for p in claim_problems(names or [])]
    if organization and organization not in organizations:
        problems.append(f"org: {organization!r} is not a configured organization")
    missing = MOODLE_NEEDS - set(names) if names is not None else set()
    if (client.registered_metadata or {}).get("campus_profile") == "moodle" and missing:
        problems.append(f"claims: Moodle refuses a login without {', '.join(sorted(missing))} "
                        "(its username and email; docs/moodle.md)")
    if (not organization and client.source == CONFIG
            and set_by(db, client.id) == CONFIG):
        problems.append("claims: the configuration file sets this client's default "
                        "(release_claims under its [clients] table); change it there")
    if not client.check_grant_type("authorization_code"):
        problems.append(f"client: {client.client_id} logs nobody in; it receives no claims")
    if problems:
        raise ConfigError(problems)
    return set_release(db, client, names, organization=organization, actor=actor)


def release_levels(db: Session, client: Client, organizations: Iterable[str]) -> list[ReleaseLevel]:
    """The consortium's level, then each organization's, in a stable order."""
    policies: Mapping[str, frozenset[str]] = policies_of(db, client.id)
    order = {name: i for i, name in enumerate(RELEASABLE_CLAIMS)}

    def level(org: str) -> ReleaseLevel:
        found = policies.get(org)
        claims = tuple(sorted(found, key=lambda n: order.get(n, len(order)))) if found is not None else None
        return ReleaseLevel(org, claims)

    orgs = sorted(set(organizations) | (set(policies) - {CONSORTIUM}))
    return [level(CONSORTIUM), *(level(org) for org in orgs)]
