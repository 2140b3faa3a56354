"""The console's link by search, card re-issue, delivery retry and login throttle pages, and
what they add to a person's page (``person_more``): the campus card, recent logins and
failures, the throttle's hold on each account, failed deliveries.

Each change is a preview with a required reason, then the same service function as the API
and the command line (``idp.linking.actions.link``, ``idp.provisioning.card_reissue``,
``idp.provisioning.deliveries.retry``) or the throttle's own clear
(``idp.linking.console_logins``), audited with the staff member as actor. Scope, as on the
API: a link needs every account of both identities in the staff member's organizations (403
audited), an account of a person they cannot see is 404; a card is the person's, so any
helpdesk who sees the person may re-issue it; a throttle is cleared for an account of the
staff member's organizations; delivery jobs serve the whole consortium and need the
consortium-wide role (403 audited).
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from idp import context
from idp.errors import IdpError
from idp.linking import actions, console, console_logins, helpdesk, merge
from idp.provisioning import card_reissue
from idp.provisioning import deliveries as delivery_service
from idp.storage.base import utcnow
from idp.storage.cards import active_card
from idp.storage.identities import Identity, LinkedAccount, account_key, resolve_sub
from idp.storage.provisioning import DeliveryJob, JobState
from idp.web.helpdesk.blueprint import bp, forbidden, helpdesk_required, not_found, scope, staff
from idp.web.helpdesk.previewed import previewed_change
from idp.web.i18n import current_language, translate
from idp.web.session import signer

MAX_QUERY = 200
TIME = "%Y-%m-%d %H:%M UTC"


def person_more(identity: Identity) -> dict[str, Any]:
    """What the person's page shows of the card, logins, throttle and deliveries."""
    db, settings, where = context.db(), context.settings(), scope()
    card = active_card(db, identity.id)
    jobs = (delivery_service.troubled_of(db, helpdesk.related_identity_ids(db, identity))
            if where.organizations is None else None)
    return {"card": card, "card_number": mask(card.number) if card else "",
            "logins": console_logins.recent_logins(db, settings, identity, where),
            "login_days": console_logins.DAYS,
            "holds": console_logins.holds(context.throttle(), context.services().directories,
                                          identity, where),
            "jobs": jobs, "failed": JobState.FAILED.value}


def mask(number: str) -> str:
    """A card number as the console shows it: its last four digits."""
    return "•••• " * 2 + number[-4:]


@bp.get("/people/<sub>/link")
@helpdesk_required
def link_search(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    if not scope().owns(identity):
        return forbidden(staff(), f"link outside {scope().organizations}",
                         "helpdesk.forbidden_change")
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    found: list[tuple[console.Found, list[console.AccountLine]]] = []
    if q:
        settings = context.settings()
        identities, _cursor = helpdesk.search(
            context.db(), q, organizations=settings.organizations, scope=scope(), limit=20,
            snils=helpdesk.SnilsSearch.of(settings))
        precedence = settings.linking.primary_precedence
        found = [(console.found(i, scope(), precedence),
                  [a for a in console.accounts(i, scope(), precedence) if not a.hidden])
                 for i in identities]
    return render_template("helpdesk/link.html", identity=identity, q=q, found=found,
                           name=console.found(identity, scope(), ()).name or identity.sub,
                           **_labels())


@bp.route("/people/<sub>/link/account", methods=["GET", "POST"])
@helpdesk_required
def link(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    account = _account(request.args.get("account", ""))
    if account is None:
        return not_found()
    if not (scope().owns(identity) and scope().owns(account.identity)):
        return forbidden(staff(), f"link of {account_key(account)} outside "
                         f"{scope().organizations}", "helpdesk.forbidden_change")
    return previewed_change(identity, "link", _link_preview(identity, account),
                lambda reason: _do_link(identity, account, reason))


@bp.route("/people/<sub>/card", methods=["GET", "POST"])
@helpdesk_required
def card(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    old = active_card(context.db(), identity.id)
    lines = [translate("helpdesk.will.card_old", number=mask(old.number)) if old
             else translate("helpdesk.will.card_first"), translate("helpdesk.will.card_new")]
    return previewed_change(identity, "card", lines, lambda reason: _do_card(identity, reason))


@bp.route("/people/<sub>/deliveries/<int:job_id>/retry", methods=["GET", "POST"])
@helpdesk_required
def retry(sub: str, job_id: int) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    db = context.db()
    job = db.get(DeliveryJob, job_id) if job_id <= helpdesk.MAX_ID else None
    if job is None or job.identity_id not in helpdesk.related_identity_ids(db, identity):
        return not_found()
    if scope().organizations is not None:
        return forbidden(staff(), f"retry of delivery job {job_id} (consortium helpdesk only)",
                         "helpdesk.forbidden_change")
    lines = [translate("helpdesk.will.retry", id=str(job.id), kind=_kind(job.kind),
                       resource=job.resource, connector=job.connector,
                       attempts=str(job.attempts))]
    if job.last_error:
        lines.append(translate("helpdesk.will.retry_error", error=job.last_error))
    return previewed_change(identity, "retry", lines, lambda reason: _do_retry(identity, job, reason))


@bp.route("/people/<sub>/throttle", methods=["GET", "POST"])
@helpdesk_required
def unthrottle(sub: str) -> Any:
    identity = _person(sub)
    if identity is None:
        return not_found()
    key = request.args.get("account", "")
    account = next((a for a in identity.accounts
                    if account_key(a) == key and scope().includes(a.organization)), None)
    if account is None:
        return not_found()
    [hold] = [h for h in console_logins.holds(context.throttle(), context.services().directories,
                                              identity, scope()) if h.account == key]
    line = (translate("helpdesk.will.unthrottle_held", account=key,
                      until=hold.held_until.strftime("%H:%M:%S UTC"))
            if hold.held_until else translate("helpdesk.will.unthrottle_free", account=key))
    return previewed_change(identity, "unthrottle", [line],
                lambda reason: _do_unthrottle(identity, account, reason))


def _link_preview(identity: Identity, account: LinkedAccount) -> list[str]:
    other = account.identity
    if other.id == identity.id:
        return [translate("helpdesk.will.link_same", account=account_key(account))]
    keys = ", ".join(line.key for line in console.accounts(other, scope()))
    return [translate("helpdesk.will.link_accounts", accounts=keys),
            translate("helpdesk.will.link_sub", sub=identity.sub, absorbed=other.sub),
            translate("helpdesk.will.link_rest")]


def _do_link(identity: Identity, account: LinkedAccount, reason: str) -> Identity:
    db, who = context.db(), staff().actor
    outcome, queued = actions.link(db, signer(), identity, account, reason=reason,
                                   actor=who.label, settings=context.settings())
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return outcome.survivor


def _do_card(identity: Identity, reason: str) -> Identity:
    db = context.db()
    card_reissue.reissue(db, context.settings(), identity, reason=reason,
                         actor=staff().actor.label, now=utcnow())
    db.commit()
    return identity


def _do_retry(identity: Identity, job: DeliveryJob, reason: str) -> Identity:
    db = context.db()
    delivery_service.retry(db, job, actor=staff().actor.label, reason=merge.check_reason(reason))
    db.commit()
    return identity


def _do_unthrottle(identity: Identity, account: LinkedAccount, reason: str) -> Identity:
    db, who = context.db(), staff().actor
    console_logins.clear_hold(db, context.throttle(), context.services().directories, account,
                              reason=merge.check_reason(reason), actor=who.label, ip=who.ip)
    db.commit()
    return identity


def _person(sub: str) -> Identity | None:
    found = resolve_sub(context.db(), sub) if 0 < len(sub) <= 64 else None
    if found is None or not scope().covers(found[0]):
        return None
    return found[0]


def _account(key: str) -> LinkedAccount | None:
    """The account ``org:username`` names, when the staff member may see it."""
    try:
        account = merge.find_account_by_key(context.db(), key)
    except IdpError:
        return None
    if not (scope().includes(account.organization) and scope().covers(account.identity)):
        return None
    return account


def _kind(kind: str) -> str:
    return translate(f"helpdesk.job.{kind}") if kind in ("grant", "revoke") else kind


def _labels() -> dict[str, Any]:
    return {"org_names": console.organization_labels(context.settings().organizations,
                                                     current_language())}
