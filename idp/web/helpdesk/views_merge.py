"""Merge, split and undo in the helpdesk console, each a preview with a required reason, then
the same service function as the API and the CLI, audited with the staff member as actor:

* merge: from a person's page, find the other person (the console's search), compare the two
  side by side (``idp.linking.merge_preview``), then ``actions.link`` with one of the other's
  accounts: this person survives and keeps the ``sub``;
* split: several accounts off onto one new identity (``idp.linking.split``);
* undo of a link, an unlink or a merge from the timeline (``idp.linking.undo``).

A person outside the staff member's organizations is 404; a merge, split or undo that also
moves another organization's account is 403 for ``helpdesk:ORG``, audited: a merge and an undo
need every account of every identity involved in the scope, a split the accounts it moves.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.errors import IdpError
from idp.linking import actions, console, helpdesk, merge_preview, split, undo
from idp.storage.audit import AuditEvent
from idp.storage.identities import ACTIVE, Identity, account_key, aliases_of, resolve_sub
from idp.web.helpdesk.blueprint import bp, forbidden, helpdesk_required, not_found, scope, staff
from idp.web.helpdesk.refusals import refusal
from idp.web.i18n import current_language, translate
from idp.web.session import signer

MAX_QUERY = 200


@bp.get("/people/<sub>/merge")
@helpdesk_required
def merge_search(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    if not scope().owns(identity):
        return forbidden(staff(), f"merge outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    results = None
    if q:
        results = [f for f in console.search(context.db(), q, settings=context.settings(),
                                             scope=scope()) if f.sub != identity.sub]
    return render_template("helpdesk/merge_search.html", identity=identity, q=q,
                           results=results, **_labels())


@bp.route("/people/<sub>/merge/<other_sub>", methods=["GET", "POST"])
@helpdesk_required
def merge(sub: str, other_sub: str) -> Any:
    identity, other = _person(sub), _person(other_sub)
    if identity is None or other is None or identity.id == other.id:
        return not_found()
    if not (scope().owns(identity) and scope().owns(other)):
        return forbidden(staff(), f"merge outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    error = ""
    if request.method == "POST":
        reason, error = _reason()
        if not error:
            account = min(other.accounts, key=lambda a: a.id)
            who, db = staff().actor, context.db()
            try:
                outcome, queued = actions.link(db, signer(), identity, account, reason=reason,
                                               actor=who.label, settings=context.settings())
            except IdpError as exc:
                error = _refused(exc)
            else:
                return _done(outcome.survivor, queued, "merge")
    plan = merge_preview.preview(context.db(), context.settings(), identity, other, scope())
    return render_template("helpdesk/merge.html", identity=identity, other=other, plan=plan,
                           error=error, **_labels()), 400 if error else 200


@bp.route("/people/<sub>/split", methods=["GET", "POST"])
@helpdesk_required
def split_accounts(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    chosen = list(dict.fromkeys(request.values.getlist("account")))
    own = {account_key(a) for a in identity.accounts}
    if any(key not in own for key in chosen):
        return not_found()
    if not all(scope().includes(key.partition(":")[0]) for key in chosen):
        return forbidden(staff(), f"split outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    error = ""
    if chosen and len(chosen) >= len(identity.accounts):
        error, chosen = translate("helpdesk.split.one_stays"), []
    if chosen and request.method == "POST":
        reason, error = _reason()
        if not error:
            who, db = staff().actor, context.db()
            try:
                _created, queued = split.split(db, signer(), identity, chosen, reason=reason,
                                               actor=who.label, settings=context.settings(),
                                               ip=who.ip)
            except IdpError as exc:
                error = _refused(exc)
            else:
                return _done(identity, queued, "split")
    lines = console.accounts(identity, scope(), context.settings().linking.primary_precedence)
    return render_template("helpdesk/split.html", identity=identity, chosen=chosen,
                           accounts=[a for a in lines if not a.hidden], error=error,
                           stays=[a.key for a in lines if a.key not in chosen],
                           **_labels()), 400 if error else 200


@bp.route("/people/<sub>/undo/<int:event_id>", methods=["GET", "POST"])
@helpdesk_required
def undo_event(sub: str, event_id: int) -> Any:
    identity = _person(sub)
    event = _event(identity, event_id) if identity is not None else None
    found = undo.plan(context.db(), event) if event is not None else None
    if identity is None or found is None:
        return not_found()
    if not all(scope().owns(i) for i in found.involved):
        return forbidden(staff(), f"undo of event {event_id} outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    error = ""
    if request.method == "POST" and found.refusal is None:
        reason, error = _reason()
        if not error:
            who, db = staff().actor, context.db()
            try:
                acted_on, queued = undo.undo(db, signer(), found.event, reason=reason,
                                             actor=who.label, settings=context.settings(),
                                             ip=who.ip)
            except IdpError as exc:
                error = _refused(exc)
            else:
                back = identity if identity.status == ACTIVE else acted_on
                return _done(back, queued, "undo")
    return render_template("helpdesk/undo.html", identity=identity, plan=found, error=error,
                           **_labels()), 400 if error else 200


@bp.context_processor
def _undo_links() -> dict[str, Any]:
    return {"undo_for": undo_for, "undo_of": undo_of}


def undo_for(identity: Identity, event: AuditEvent) -> dict[str, str] | None:
    """For the timeline: the undo link of a link, unlink or merge event, or why there is
    none; None for any other event."""
    found = undo.plan(context.db(), event)
    if found is None:
        return None
    if found.refusal is not None:
        return {"why": translate(f"helpdesk.undo.refusal.{found.refusal.value}")}
    if not all(scope().owns(i) for i in found.involved):
        return {"why": translate("helpdesk.undo.refusal.scope")}
    return {"url": url_for("helpdesk.undo_event", sub=identity.sub, event_id=event.id)}


def undo_of(details: dict[str, Any]) -> int | None:
    """The event a change undid, from its evidence."""
    evidence = details.get("evidence")
    found = evidence.get("undoes") if isinstance(evidence, dict) else None
    return found if isinstance(found, int) else None


def _person(sub: str) -> Identity | None:
    found = resolve_sub(context.db(), sub) if 0 < len(sub) <= 64 else None
    if found is None or not scope().covers(found[0]):
        return None
    return found[0]


def _event(identity: Identity, event_id: int) -> AuditEvent | None:
    """An event of the person's own audit trail that the staff member may read."""
    db = context.db()
    event = db.get(AuditEvent, event_id) if 0 < event_id <= helpdesk.MAX_ID else None
    if event is None or not scope().includes(event.organization):
        return None
    subs = {identity.sub, *(a.sub for a in aliases_of(db, identity.id))}
    related = set(helpdesk.related_identity_ids(db, identity))
    if event.identity_id in related or (event.details or {}).get("new_sub") in subs:
        return event
    return None


def _reason() -> tuple[str, str]:
    reason = request.form.get("reason", "").strip()
    return reason, "" if reason else translate("helpdesk.reason_required")


def _refused(exc: IdpError) -> str:
    context.db().rollback()
    return translate("helpdesk.refused", message=refusal(exc))


def _done(identity: Identity, queued: list[int], action: str) -> Any:
    db = context.db()
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return redirect(url_for("helpdesk.person", sub=identity.sub, done=action))


def _labels() -> dict[str, Any]:
    return {"org_names": console.organization_labels(context.settings().organizations,
                                                     current_language())}
