"""The review queue (``/helpdesk/review``): open link proposals, oldest first, 50 to a page,
each with its evidence and parties (``idp.linking.review``), decided on its own row with a
required reason through ``idp.linking.actions`` as on the person's page.

A ``helpdesk:ORG`` member sees the proposals that involve an ORG account, may reject them, and
may approve only those whose every account is ORG's; a proposal outside the scope answers as
one already decided (404), a decision the role does not allow 403, audited.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from idp import context
from idp.errors import IdpError
from idp.linking import actions, console, review
from idp.linking.merge import MAX_REASON, current_identity
from idp.storage.identities import Identity, resolve_sub
from idp.storage.linking import LinkProposal
from idp.web.helpdesk.blueprint import bp, forbidden, helpdesk_required, scope, staff
from idp.web.helpdesk.refusals import refusal
from idp.web.i18n import current_language, translate
from idp.web.session import signer

DECISIONS = ("approve", "reject")


@bp.context_processor
def _open_proposals() -> dict[str, Any]:
    """``open_proposals()`` for the console's navigation: the count the staff member's scope
    sees, read only when a page of the console asks for it."""
    def count() -> int | None:
        where = g.get("scope")
        return review.open_count(context.db(), where) if where is not None else None
    return {"open_proposals": count}


@bp.get("/review")
@helpdesk_required
def review_queue() -> Any:
    done = request.args.get("done", "")
    return _queue(done=done if done in DECISIONS else "",
                  decided=_person_link(request.args.get("person", "")))


@bp.post("/review/<int:proposal_id>")
@helpdesk_required
def review_decide(proposal_id: int) -> Any:
    decision = request.form.get("decision", "")
    if decision not in DECISIONS:
        return _queue(notice=translate("helpdesk.review.no_decision")), 400
    db = context.db()
    proposal = review.find_open(db, scope(), proposal_id)
    if proposal is None:
        return _queue(notice=translate("helpdesk.review.gone")), 404
    if not review.may_decide(scope(), review.involved(db, proposal), decision):
        outside = ", ".join(sorted(scope().organizations or ()))
        return forbidden(staff(), f"{decision} proposal {proposal_id}: accounts outside {outside}",
                         "helpdesk.forbidden_change")
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _queue(errors={proposal_id: translate("helpdesk.reason_required")}), 400
    try:
        person = _decide(proposal, decision, reason)
    except IdpError as exc:
        db.rollback()
        return _queue(errors={proposal_id: translate("helpdesk.refused",
                                                     message=refusal(exc))}), 400
    return redirect(url_for("helpdesk.review_queue", after=_after() or None, done=decision,
                            person=person.sub))


def _decide(proposal: LinkProposal, decision: str, reason: str) -> Identity:
    """The decision, committed; the identity whose page shows it next."""
    db, settings, who = context.db(), context.settings(), staff().actor
    queued: list[int] = []
    if decision == "approve":
        outcome, queued = actions.approve(db, signer(), proposal, reason=reason,
                                          actor=who.label, settings=settings)
        person = (outcome.survivor if outcome is not None
                  else current_identity(db, db.get_one(Identity, proposal.candidate_identity_id)))
    else:
        actions.reject(db, proposal, reason=reason, actor=who.label)
        person = current_identity(db, db.get_one(Identity, proposal.identity_id))
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return person


def _queue(*, done: str = "", decided: str = "", notice: str = "",
           errors: dict[int, str] | None = None) -> str:
    db = context.db()
    found = review.page(db, context.settings(), scope(), after=_after())
    return render_template("helpdesk/review.html", page=found, after=_after(), done=done,
                           decided=decided, notice=notice, errors=errors or {},
                           max_reason=MAX_REASON, org_names=console.organization_labels(
                               context.settings().organizations, current_language()))


def _after() -> int:
    raw = request.values.get("after", "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0


def _person_link(sub: str) -> str:
    """The page of the person a decision was about, when the staff member may open it."""
    found = resolve_sub(context.db(), sub) if 0 < len(sub) <= 64 else None
    return found[0].sub if found is not None and scope().covers(found[0]) else ""
