"""One page of a directory listing written in one transaction: the accounts it names are
found in one query, created when missing (``idp.provisioning.sync_create``: a new identity
each, then the linking rules), refreshed when their username or attributes changed, and
active again when they come back.

Nothing here takes access away: an account the directory now says is disabled is only
collected (``PageOutcome.removals``), and of the grant changes of the people touched only
those that give or keep access are written; the rest wait for the end of the sync and its
safety brake (``idp.provisioning.sync``). Unchanged accounts are not written, except one
statement per page that sets when the directory last held them; the linking rules run again
only for accounts whose match values changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.directory.base import DirectoryEntry
from idp.identity.claims import kept_attributes
from idp.linking import fingerprints as fp
from idp.linking.rules import Linker, link_at_login
from idp.provisioning.grants import apply, grants_of, plan
from idp.provisioning.sync_create import among, create_accounts
from idp.provisioning.sync_run import PageOutcome, SyncRun
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage import linking as link_store
from idp.storage.audit import AuditEventType
from idp.storage.identities import DISABLED, IN_DIRECTORY, Identity, LinkedAccount, account_key
from idp.storage.linking import MatchFingerprint
from idp.storage.provisioning import GrantState

Expected = dict[str, str | None]  # rule -> hash (None: an invalid value), as link_at_login stores


def write_page(db: Session, settings: Settings, linker: Linker, run: SyncRun,
               entries: Sequence[DirectoryEntry]) -> PageOutcome:
    """Write one page of entries in the caller's transaction (the caller commits)."""
    out = PageOutcome()
    page = {e.account.external_id: e for e in entries}  # a repeated id: the last one counts
    existing = {a.external_id: a for a in db.scalars(select(LinkedAccount).where(
        LinkedAccount.organization == run.organization,
        among(db, LinkedAccount.external_id, list(page))))}
    evaluations = {ext: [fp.evaluate(rule, e.account.attributes, linker.fingerprinter)
                         for rule in linker.rules] for ext, e in page.items()}
    relink = _changed_match_values(db, existing, evaluations)
    fresh = [e for ext, e in page.items() if ext not in existing]
    # Logins that could match these accounts wait for this page's commit, and it for theirs.
    link_store.lock_match_keys(db, {ev.digest for ext in [*relink, *(
        e.account.external_id for e in fresh)] for ev in evaluations[ext]
        if isinstance(ev, fp.Fingerprint)})
    touched: dict[int, Identity | None] = {}  # None: read it
    for ext, account in existing.items():
        if _refresh(db, run, out, account, page[ext]):
            touched[account.identity_id] = None
    for ext in relink:
        account = existing[ext]
        link_at_login(db, linker, account, page[ext].account, created=False)
        touched[account.identity_id] = None
    if existing:
        db.execute(update(LinkedAccount)
                   .where(among(db, LinkedAccount.id, [a.id for a in existing.values()]))
                   .values(directory_seen_at=run.now)
                   .execution_options(synchronize_session=False))
    for identity_id, made in create_accounts(db, run, linker, fresh, evaluations).items():
        touched.setdefault(identity_id, made)
    out.new = len(fresh)
    _grant(db, settings, run, out, touched)
    return out


def _changed_match_values(db: Session, existing: Mapping[str, LinkedAccount],
                          evaluations: Mapping[str, list[fp.Evaluation]]) -> list[str]:
    """The existing accounts whose match values are not what their stored fingerprints say:
    only these go through the linking rules again (a login decides the same by
    ``idp.storage.linking.settled``; a match on an unchanged value was found when the other
    account got it)."""
    if not existing or not any(evaluations.values()):
        return []  # no linking rules: nothing to compare (a login does nothing either)
    ids = {a.id: ext for ext, a in existing.items()}
    stored: dict[str, Expected] = {ext: {} for ext in existing}
    for account_id, rule, digest in db.execute(
            select(MatchFingerprint.account_id, MatchFingerprint.rule, MatchFingerprint.hash)
            .where(MatchFingerprint.account_id.in_(list(ids)))):
        stored[ids[account_id]][rule] = digest
    return [ext for ext in existing if stored[ext] != expected(evaluations[ext])]


def expected(evaluations: Sequence[fp.Evaluation]) -> Expected:
    """The fingerprint rows link_at_login keeps for these evaluations."""
    return {e.rule: e.digest if isinstance(e, fp.Fingerprint) else None
            for e in evaluations if not isinstance(e, fp.NoValue)}


def _refresh(db: Session, run: SyncRun, out: PageOutcome, account: LinkedAccount,
             entry: DirectoryEntry) -> bool:
    """Bring an existing account in step with its entry; whether its person's grants may
    change. A disabled entry is only collected: disabling ends access, which waits."""
    found = entry.account
    kept = kept_attributes(found.attributes)
    changed = False
    if account.username != found.username or account.attributes != kept:
        account.username, account.attributes = found.username, kept
        changed = True
    if entry.disabled:
        if account.directory_state != DISABLED:
            out.removals[account.id] = DISABLED
            if account.directory_state == IN_DIRECTORY:
                out.ending.add(account.id)
    elif account.directory_state != IN_DIRECTORY:
        audit.record(db, AuditEventType.ACCOUNT_REACTIVATED, actor=run.actor,
                     identity_id=account.identity_id, organization=run.organization,
                     account=account_key(account), previous=account.directory_state)
        account.directory_state = IN_DIRECTORY
        changed = True
    out.changed += changed
    return changed


def _grant(db: Session, settings: Settings, run: SyncRun, out: PageOutcome,
           touched: Mapping[int, Identity | None]) -> None:
    """The grant changes of the people touched that give or keep access; any other change
    (grace, end) is held back for the end of the sync. People created by this page come as
    they were written; the others are read."""
    if not touched or not settings.access.policies:  # without policies nothing is given
        return
    ids = sorted(touched)
    unread = [i for i in ids if touched[i] is None]
    identities = {i.id: i for i in db.scalars(select(Identity).where(Identity.id.in_(unread)))} \
        if unread else {}
    current = grants_of(db, ids)
    for identity_id in ids:
        identity = touched[identity_id] or identities.get(identity_id)
        if identity is None:
            continue  # an identity a linking rule emptied (it never left this transaction)
        steps = plan(settings, identity, current[identity_id], run.now)
        giving = [s for s in steps if s.after is GrantState.ACTIVE]
        if len(giving) < len(steps):
            out.held.add(identity_id)
        apply(db, settings, identity, giving, current[identity_id], actor=run.actor,
              reason="directory sync", now=run.now)
