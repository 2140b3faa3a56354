"""A service's refusal in the console's language. A service error's ``public`` text is
English (the API and the command line show it as it is); the console recognises each known
one by its wording and shows its text from ``idp.web.i18n`` (``helpdesk.error.*``) with the
same values (an account, a job number). An unknown refusal falls back to a text per kind of
error (conflict, not found, invalid input), so a Russian page never shows English."""

from __future__ import annotations

import re

from idp.errors import Conflict, Forbidden, IdpError, InvalidInput, NotFound
from idp.web.i18n import current_language, translate

# The English public texts of idp.linking.merge, idp.linking.split, idp.linking.undo,
# idp.identity.lock, idp.provisioning.card_reissue and idp.provisioning.deliveries, each with
# its text key.
KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), key) for pattern, key in (
    (r"A reason is required\.", "reason_required"),
    (r"The reason is longer than (?P<n>\d+) characters\.", "reason_too_long"),
    (r"reason \(1 to (?P<n>\d+) characters\) is required\.", "reason_too_long"),
    (r"An account is written organization:username, e\.g\. tsu:petrov\.", "account_key"),
    (r"No account (?P<account>\S+) has logged in yet\.", "no_account"),
    (r"Several accounts are named (?P<account>\S+)\.", "several_accounts"),
    (r"(?P<account>\S+) is already linked here\.", "already_linked"),
    (r"(?P<account>\S+) is not linked to this identity\.", "not_linked"),
    (r"An identity's last account cannot be unlinked\.", "last_account"),
    (r"The account changed meanwhile; try again\.", "changed_meanwhile"),
    (r"Proposal (?P<id>\d+) is already (?P<state>\w+)\.", "proposal_decided"),
    (r"This identity was merged into another one\.", "merged"),
    (r"Choose at least one account to move\.", "no_account_chosen"),
    (r"At least one account must stay with the identity\.", "one_must_stay"),
    (r"This change cannot be undone any more\.", "no_undo"),
    (r"This identity is already locked\.", "already_locked"),
    (r"This identity is not locked\.", "not_locked"),
    (r"This person has no active campus card to re-issue\.", "no_card"),
    (r"No delivery job (?P<id>\d+)\.", "no_job"),
    (r"Delivery job (?P<id>\d+) is (?P<state>\w+), not failed: only a failed job is retried\.",
     "job_not_failed"),
    (r"Delivery job (?P<id>\d+) was superseded by job (?P<newer>\d+) for the same person, "
     r"resource and connector; sending it now would deliver an old state\.", "job_superseded"),
))
BY_KIND: tuple[tuple[type[IdpError], str], ...] = (
    (Conflict, "conflict"), (NotFound, "not_found"), (InvalidInput, "invalid"),
    (Forbidden, "forbidden"),
)


def refusal(exc: IdpError) -> str:
    """``exc.public`` in the page's language."""
    if current_language() == "en":
        return exc.public
    for pattern, key in KNOWN:
        if (match := pattern.fullmatch(exc.public)) is not None:
            return translate(f"helpdesk.error.{key}", **match.groupdict())
    kind = next((key for cls, key in BY_KIND if isinstance(exc, cls)), "other")
    return translate(f"helpdesk.error.{kind}")
