"""``idp identities``, ``idp proposals`` and ``idp audit``: the helpdesk API's work from a shell.

The commands call the same service functions as ``/api/v1`` (``idp.linking.actions`` and
``idp.linking.helpdesk``), print JSON (an object, or one object per line for lists and
exports), and act as ``cli:<os user>`` on every organization. Errors go to stderr with the
API's message; exit codes: 0 done, 2 invalid input or configuration, 3 not found,
4 conflict with the current state.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from idp.cli.shared import SUB_ARGUMENT, current_engine, echo_json, main, refuse, session_on, settings_of
from idp.errors import IdpError, InvalidInput, NotFound
from idp.identity import lock as identity_lock
from idp.linking import actions, helpdesk, merge
from idp.linking.helpdesk import HelpdeskScope
from idp.oidc.backchannel import Signer
from idp.settings import Settings
from idp.storage.identities import Identity, resolve_sub
from idp.storage.linking import LinkProposal, ProposalStatus
from idp.web import api_json

_REASON = click.option("--reason", required=True, help="Why (recorded in the audit trail).")


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def _echo(body: Any) -> None:
    """JSON as the helpdesk API writes it: keys sorted, letters as they are."""
    echo_json(body, sort_keys=True, ensure_ascii=False)


@contextmanager
def _database(ctx: click.Context) -> Iterator[tuple[Session, Settings]]:
    """A session on a current database; an ``IdpError`` inside becomes a message and an exit
    code, after the transaction was rolled back (nothing half-done is kept)."""
    settings = settings_of(ctx)
    engine = current_engine(settings)
    try:
        with session_on(engine) as session:
            try:
                yield session, settings
            except IdpError as exc:
                session.rollback()
                refuse(exc)
    finally:
        engine.dispose()


def _signer(session: Session, settings: Settings) -> Signer:
    """Signs the Security Event Tokens a change queues, with the keys the servers use now
    (made here, as a server's first start would, when no server ever ran)."""
    from idp.oidc.key_rotation import retention
    from idp.oidc.keys import ensure_keys, load_keyring

    ensure_keys(session, settings.server.secret_key)
    session.flush()
    keyring = load_keyring(session, settings.server.secret_key, retention=retention(settings))
    return Signer(settings.server.issuer, keyring)


def find_identity(db: Session, sub_or_account: str) -> Identity:
    """``tsu:petrov`` names an account (its identity answers); anything else is a sub or an
    alias sub."""
    if ":" in sub_or_account:
        return merge.find_account_by_key(db, sub_or_account).identity
    found = resolve_sub(db, sub_or_account)
    if found is None:
        raise NotFound(f"sub {sub_or_account!r}", public=f"No identity has the sub {sub_or_account}.")
    return found[0]


def _details(db: Session, settings: Settings, identity: Identity) -> dict[str, Any]:
    return api_json.identity_details(db, identity, settings.linking.primary_precedence)


@main.group()
def identities() -> None:
    """Campus identities: show, link and unlink accounts, lock and unlock."""


@identities.command("show", context_settings=SUB_ARGUMENT)
@click.argument("sub_or_account")
@click.pass_context
def identities_show(ctx: click.Context, sub_or_account: str) -> None:
    """The identity of a sub (or alias sub) or of an account (ORG:USERNAME), as JSON."""
    with _database(ctx) as (db, settings):
        _echo(_details(db, settings, find_identity(db, sub_or_account)))


@identities.command("link", context_settings=SUB_ARGUMENT)
@click.argument("sub")
@click.argument("account")
@_REASON
@click.pass_context
def identities_link(ctx: click.Context, sub: str, account: str, reason: str) -> None:
    """Link ACCOUNT (ORG:USERNAME) to the identity SUB, merging the account's identity into it."""
    with _database(ctx) as (db, settings):
        merge.check_reason(reason)
        merge.parse_account_key(account)
        identity = find_identity(db, sub)
        signer = _signer(db, settings)
        outcome, queued = actions.link(db, signer, identity, account, reason=reason, actor=actor(),
                                       settings=settings)
        db.commit()
        actions.deliver_now(db, signer, queued, limits=settings.outbound)
        _echo({**_details(db, settings, outcome.survivor), "merged_sub": outcome.absorbed_sub})


@identities.command("unlink", context_settings=SUB_ARGUMENT)
@click.argument("sub")
@click.argument("account")
@_REASON
@click.pass_context
def identities_unlink(ctx: click.Context, sub: str, account: str, reason: str) -> None:
    """Move ACCOUNT (ORG:USERNAME) off the identity SUB onto a new identity with a new sub."""
    with _database(ctx) as (db, settings):
        merge.check_reason(reason)
        merge.parse_account_key(account)
        identity = find_identity(db, sub)
        signer = _signer(db, settings)
        created, queued = actions.unlink(db, signer, identity, account, reason=reason,
                                         actor=actor(), settings=settings)
        db.commit()
        actions.deliver_now(db, signer, queued, limits=settings.outbound)
        _echo({"identity": _details(db, settings, identity),
               "new_identity": _details(db, settings, created)})


@identities.command("lock", context_settings=SUB_ARGUMENT)
@click.argument("sub")
@_REASON
@click.pass_context
def identities_lock(ctx: click.Context, sub: str, reason: str) -> None:
    """Lock the identity SUB (or of ORG:USERNAME): no login anywhere, its sessions and tokens
    ended, its access grants ended."""
    with _database(ctx) as (db, settings):
        identity = find_identity(db, sub)
        signer = _signer(db, settings)
        done = identity_lock.lock(db, settings, signer, identity, reason=reason, actor=actor())
        db.commit()
        actions.deliver_now(db, signer, list(done.logout_tokens), limits=settings.outbound)
        _echo(api_json.lock_outcome(identity, done))


@identities.command("unlock", context_settings=SUB_ARGUMENT)
@click.argument("sub")
@_REASON
@click.pass_context
def identities_unlock(ctx: click.Context, sub: str, reason: str) -> None:
    """Unlock the identity SUB (or of ORG:USERNAME): its access grants recomputed."""
    with _database(ctx) as (db, settings):
        identity = find_identity(db, sub)
        done = identity_lock.unlock(db, settings, identity, reason=reason, actor=actor())
        db.commit()
        _echo(api_json.lock_outcome(identity, done))


@main.group()
def proposals() -> None:
    """The review queue of link proposals."""


@proposals.command("list")
@click.option("--status", type=click.Choice([*(s.value for s in ProposalStatus), "all"]),
              default=ProposalStatus.PENDING.value, show_default=True)
@click.pass_context
def proposals_list(ctx: click.Context, status: str) -> None:
    """One JSON object per proposal, oldest first."""
    with _database(ctx) as (db, _settings):
        after = 0
        while True:
            found, cursor = helpdesk.proposals(db, HelpdeskScope(None),
                                               status=None if status == "all" else status,
                                               limit=helpdesk.MAX_LIMIT, after=after)
            for p in found:
                _echo(api_json.proposal(db, p))
            if cursor is None:
                return
            after = cursor


def _proposal(db: Session, proposal_id: int) -> LinkProposal:
    proposal = helpdesk.find_proposal(db, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}", public=f"No proposal {proposal_id}.")
    return proposal


@proposals.command("approve")
@click.argument("proposal_id", type=int)
@_REASON
@click.pass_context
def proposals_approve(ctx: click.Context, proposal_id: int, reason: str) -> None:
    """Approve: the account's identity is merged into the candidate identity."""
    with _database(ctx) as (db, settings):
        merge.check_reason(reason)
        proposal = _proposal(db, proposal_id)
        signer = _signer(db, settings)
        _outcome, queued = actions.approve(db, signer, proposal, reason=reason, actor=actor(),
                                           settings=settings)
        db.commit()
        actions.deliver_now(db, signer, queued, limits=settings.outbound)
        _echo(api_json.proposal(db, proposal))


@proposals.command("reject")
@click.argument("proposal_id", type=int)
@_REASON
@click.pass_context
def proposals_reject(ctx: click.Context, proposal_id: int, reason: str) -> None:
    """Reject: nothing merges; the decision is recorded."""
    with _database(ctx) as (db, _settings):
        merge.check_reason(reason)
        proposal = _proposal(db, proposal_id)
        actions.reject(db, proposal, reason=reason, actor=actor())
        db.commit()
        _echo(api_json.proposal(db, proposal))


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"since={value!r}",
                           public="--since is an ISO date or time, e.g. 2026-09-01 or "
                                  "2026-09-01T08:00:00+07:00.") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@audit_group.command("export")
@click.option("--sub", default=None, metavar="SUB_OR_ACCOUNT",
              help="Only this identity's trail (its aliases' included).")
@click.option("--since", default=None, metavar="ISO_TIME",
              help="Only events at or after this time (UTC when no offset is given).")
@click.pass_context
def audit_export(ctx: click.Context, sub: str | None, since: str | None) -> None:
    """Write the audit trail as JSON lines, oldest first: idp audit export > trail.jsonl"""
    with _database(ctx) as (db, _settings):
        start = _since(since)
        identity = find_identity(db, sub) if sub is not None else None
        for event in helpdesk.audit_export(db, identity, since=start):
            _echo(api_json.audit_event(event))

