"""The helpdesk console's pages: sign-in (the admin UI's, ``idp.web.admin.signin``), search,
a person's page, and each action as a preview of what will change with a required reason,
then the change through the same service functions as the helpdesk API (``idp.identity.lock``,
``idp.linking.actions``), audited with the staff member as actor.

A person outside the staff member's organizations is 404 everywhere, as one who does not
exist; a change that also moves another organization's account is 403 for ``helpdesk:ORG``.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.admin.internal_client import HELPDESK_CALLBACK_PATH
from idp.identity import lock as identity_lock
from idp.linking import actions, console, helpdesk, review
from idp.storage.identities import Identity, account_key, resolve_sub
from idp.storage.linking import LinkProposal, ProposalStatus
from idp.storage.sessions import active_sessions
from idp.web.admin.signin import begin, complete
from idp.web.admin.staff import write_cookie
from idp.web.helpdesk.blueprint import AREA, bp, forbidden, helpdesk_required, not_found, scope, staff
from idp.web.helpdesk.previewed import previewed_change
from idp.web.helpdesk.views_actions import person_more
from idp.web.i18n import current_language, translate
from idp.web.messages import MESSAGES
from idp.web.session import deliver_logout_tokens, signer

MAX_QUERY = 200


@bp.get("/login")
def sign_in() -> Any:
    return begin(AREA, HELPDESK_CALLBACK_PATH,
                 max_age=context.settings().helpdesk.session_minutes * 60)


@bp.get("/callback")
def callback() -> Any:
    return complete(AREA, HELPDESK_CALLBACK_PATH, url_for("helpdesk.search"))


@bp.post("/logout")
def sign_out() -> Any:
    """Leaves the console only; the Campus ID session goes on."""
    write_cookie({}, AREA)
    return redirect("/")


@bp.get("/")
@helpdesk_required
def search() -> Any:
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    results = (console.search(context.db(), q, settings=context.settings(), scope=scope())
               if q else None)
    return render_template("helpdesk/search.html", q=q, results=results, **_labels())


@bp.get("/people/<sub>")
@helpdesk_required
def person(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    before = request.args.get("before", "")
    page = console.person(context.db(), context.settings(), identity, scope(),
                          event_type=request.args.get("event") or None,
                          before=int(before) if before.isdigit() and len(before) < 18 else None)
    sessions = [(account_key(s.account) if scope().includes(s.account.organization)
                 else s.account.organization, s.created_at, s.expires_at)
                for s in active_sessions(context.db(), identity.id)]
    done = request.args.get("done", "")
    return render_template("helpdesk/person.html", page=page, can_change=scope().owns(identity),
                           sessions=sessions, more=person_more(identity),
                           done=_done(done), **_labels())


@bp.route("/people/<sub>/<any(lock, unlock, logout, unlink, approve, reject):action>",
          methods=["GET", "POST"])
@helpdesk_required
def act(sub: str, action: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    target = _target(identity, action)
    if target is None:
        return not_found()
    if not _allowed(identity, action, target):
        return forbidden(staff(), f"{action} outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    return previewed_change(identity, action, _preview(identity, action, target),
                            lambda reason: _do(identity, action, target, reason), target=target)


def _person(sub: str) -> Identity | None:
    found = resolve_sub(context.db(), sub) if 0 < len(sub) <= 64 else None
    if found is None or not scope().covers(found[0]):
        return None
    return found[0]


def _target(identity: Identity, action: str) -> str | LinkProposal | None:
    """The account (``org:username``) an unlink names, or the proposal a decision names,
    which must be the person's; ``""`` for an action on the person alone."""
    if action == "unlink":
        key = request.args.get("account", "")
        return key if key in {account_key(a) for a in identity.accounts} else None
    if action in ("approve", "reject"):
        raw = request.args.get("proposal", "")
        proposal = helpdesk.find_proposal(context.db(), int(raw)) if raw.isdigit() else None
        if (proposal is None or proposal.status != ProposalStatus.PENDING.value
                or identity.id not in (proposal.identity_id, proposal.candidate_identity_id)):
            return None
        return proposal
    return ""


def _allowed(identity: Identity, action: str, target: str | LinkProposal) -> bool:
    """As on the API and the review queue: what is another organization's needs the
    consortium helpdesk; a proposal is judged by the identities it touches today."""
    where = scope()
    if isinstance(target, LinkProposal):
        return review.may_decide(where, review.involved(context.db(), target), action)
    if action == "unlink":
        return where.includes(target.partition(":")[0])
    return where.owns(identity)


def _preview(identity: Identity, action: str, target: str | LinkProposal) -> list[str]:
    db, settings = context.db(), context.settings()
    if isinstance(target, LinkProposal):
        account, _one, _other = console.proposal_parties(db, target)
        return [translate(f"helpdesk.will.{action}", account=account_key(account))]
    if action == "unlink":
        return [translate("helpdesk.will.unlink", account=target)]
    plan = identity_lock.preview(db, settings, identity)
    if action == "unlock":
        return [translate("helpdesk.will.login_again"), translate(
            "helpdesk.will.access_back", resources=_list(plan.grants_starting))]
    lines = [translate("helpdesk.will.sessions", n=str(plan.sessions)),
             translate("helpdesk.will.refresh", n=str(plan.refresh_tokens))]
    if action == "lock":
        lines = [translate("helpdesk.will.no_login"), *lines, translate(
            "helpdesk.will.access_ends", resources=_list(plan.grants_ending))]
    return lines


def _do(identity: Identity, action: str, target: str | LinkProposal, reason: str) -> Identity:
    """The change, committed; returns the identity whose page comes next."""
    db, settings, who = context.db(), context.settings(), staff().actor
    organization = scope().organization_of(identity)
    logout_tokens: tuple[int, ...] = ()
    queued: list[int] = []
    survivor = identity
    if action == "lock":
        logout_tokens = identity_lock.lock(db, settings, signer(), identity, reason=reason,
                                           actor=who.label, ip=who.ip,
                                           organization=organization).logout_tokens
    elif action == "unlock":
        identity_lock.unlock(db, settings, identity, reason=reason, actor=who.label, ip=who.ip,
                             organization=organization)
    elif action == "logout":
        logout_tokens = identity_lock.logout_everywhere(
            db, settings, signer(), identity, reason=reason, actor=who.label, ip=who.ip,
            organization=organization).logout_tokens
    elif action == "unlink" and isinstance(target, str):
        _created, queued = actions.unlink(db, signer(), identity, target, reason=reason,
                                          actor=who.label, settings=settings, ip=who.ip)
    elif action == "approve" and isinstance(target, LinkProposal):
        outcome, queued = actions.approve(db, signer(), target, reason=reason, actor=who.label,
                                          settings=settings)
        survivor = outcome.survivor if outcome is not None else identity
    elif isinstance(target, LinkProposal):
        actions.reject(db, target, reason=reason, actor=who.label)
    db.commit()
    deliver_logout_tokens(list(logout_tokens))
    actions.deliver_now(db, signer(), queued)
    return survivor


def _done(action: str) -> str:
    """The text saying an action is done: any action that registered one (``helpdesk.done.*``,
    the views of other modules too)."""
    key = f"helpdesk.done.{action}"
    return key if action.isidentifier() and key in MESSAGES["en"] else ""


def _list(resources: tuple[str, ...]) -> str:
    return ", ".join(resources) if resources else translate("helpdesk.will.nothing")


def _labels() -> dict[str, Any]:
    return {"org_names": console.organization_labels(context.settings().organizations,
                                                     current_language())}
