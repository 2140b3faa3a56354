"""The names of the claims a relying party can receive, and what a release policy may name:
a vocabulary that imports nothing, so the configuration (``release_claims``) and the release
rules (``idp.identity.release``) check a policy the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

PROFILE_CLAIMS = ("name", "given_name", "family_name", "middle_name", "preferred_username", "locale")
EMAIL_CLAIMS = ("email", "email_verified")
CAMPUS_CLAIMS = ("campus_id", "affiliations", "entitlements", "organizations")
CLAIMS_SUPPORTED = ("sub", *PROFILE_CLAIMS, *EMAIL_CLAIMS, *CAMPUS_CLAIMS)
# What a release policy names: every claim but ``sub`` (always released) and ``email_verified``
# (released with ``email``, whose trust it qualifies).
RELEASABLE_CLAIMS = tuple(c for c in CLAIMS_SUPPORTED if c not in ("sub", "email_verified"))

ALWAYS_RELEASED = frozenset({"sub"})
COMPANIONS = {"email_verified": "email"}  # released whenever the claim it qualifies is


def claim_problems(names: Iterable[str]) -> list[str]:
    """One message per name a release policy cannot hold."""
    problems = []
    for name in names:
        if name in ALWAYS_RELEASED:
            problems.append(f"{name!r} is always released and is not part of a policy")
        elif name in COMPANIONS:
            problems.append(f"{name!r} is released together with {COMPANIONS[name]!r}")
        elif name not in RELEASABLE_CLAIMS:
            problems.append(f"{name!r} is not a claim (known: {', '.join(RELEASABLE_CLAIMS)})")
    return problems


def parse_claim_list(text: str) -> list[str]:
    """``"name, email"`` as the names it lists, each once, in order."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
