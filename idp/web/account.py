"""My Campus ID (``/account``): what a logged-in person sees and decides about themselves.

Connected services (consents) and revoking one, "log out everywhere", linked accounts with the
primary one, linking another university account by its password, and proposals about the
person. Reuses the browser's login session; without one, the login page sends the person back
here. Every form is CSRF-protected (``idp.web.csrf``), every change is audited by the service
function it calls, and each POST ends in a redirect back to the page with a one-word outcome.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from idp import context
from idp.errors import Conflict, DirectoryUnavailable, NotFound
from idp.identity.claims import primary_account
from idp.identity.consents import revoke_consent
from idp.identity.login import check_password
from idp.linking import actions, person
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client
from idp.storage.grants import consents_of, find_consent
from idp.storage.identities import account_key, get_identity
from idp.storage.sessions import LoginSession, active_sessions
from idp.web.i18n import translate, wait_text
from idp.web.login import STATUS_MESSAGES, organization_choices
from idp.web.session import (
    current_login,
    deliver_logout_tokens,
    end_any_session,
    end_login_session,
    signer,
)

bp = Blueprint("account", __name__)
DONE = ("revoked", "logged_out", "linked", "primary", "accepted", "rejected")
MAX_USERNAME = 256
# The merge engine's conflicts (by their logged detail), in the page's language.
CONFLICTS = {"already linked": "account.already_linked",
             "proof of another account": "account.not_proposed"}


@bp.get("/account")
def show() -> Any:
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    done = request.args.get("done", "")
    return _render(login, notice=translate(f"account.done.{done}") if done in DONE else None)


@bp.post("/account/consents/<int:consent_id>/revoke")
def revoke(consent_id: int) -> Any:
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    consent = find_consent(db, login.identity_id, consent_id)
    if consent is None:
        return _render(login, error=translate("account.not_found"), status=404)
    revoke_consent(db, consent, actor=account_key(login.account), ip=request.remote_addr)
    db.commit()
    return _done("revoked")


@bp.post("/account/logout-everywhere")
def logout_everywhere() -> Any:
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    others = [s for s in active_sessions(db, login.identity_id) if s.id != login.id]
    audit.record(db, AuditEventType.LOGOUT_EVERYWHERE, actor=account_key(login.account),
                 identity_id=login.identity_id, ip=request.remote_addr, sessions=len(others) + 1)
    ids: list[int] = []
    for other in others:
        ids += end_any_session(other, "logout_everywhere")
    ids += end_login_session("logout_everywhere")
    db.commit()
    deliver_logout_tokens(ids)
    return redirect("/")  # home says "You are not logged in."


@bp.post("/account/link")
def link() -> Any:
    """Prove another account's password: link it, or accept the proposal named in the form."""
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    form = request.form
    org_id, username, password = (form.get("organization", ""),
                                  form.get("username", "").strip()[:MAX_USERNAME],
                                  form.get("password", ""))
    proposal = None
    try:
        if form.get("proposal"):
            proposal = person.find_proposal(db, login.identity_id, _int(form["proposal"]))
        if not username or not password:
            return _render(login, error=translate("login.missing"), status=400, org=org_id,
                           username=username)
        directory = context.services().directories.get(org_id)
        if directory is None:
            return _render(login, error=translate("login.unknown_org"), status=400)
        proof = check_password(db, directory, username, password, ip=request.remote_addr,
                               throttle=context.throttle())
        if proof.found is None:
            audit.record(db, AuditEventType.LINK_PROOF_FAILED, actor=account_key(login.account),
                         identity_id=login.identity_id, organization=org_id, ip=request.remote_addr,
                         attempted=username[:64], throttled=proof.retry_after_s is not None)
            db.commit()
            if proof.retry_after_s is not None:
                error = translate("login.throttled", wait=wait_text(proof.retry_after_s))
                response = make_response(_render(login, error=error, status=429, org=org_id,
                                                 username=username))
                response.headers["Retry-After"] = str(proof.retry_after_s)
                return response
            message = STATUS_MESSAGES.get(proof.status, "login.invalid")
            return _render(login, error=translate(message), status=401, org=org_id,
                           username=username)
        secret_key = context.settings().server.secret_key
        if proposal is not None:
            queued = person.accept_proposal(db, login.identity, login.account, proposal,
                                            proof.found, signer=signer(), secret_key=secret_key)
            outcome = "accepted"
        else:
            queued = person.link_proven_account(
                db, login.identity, login.account, proof.found, linker=context.services().linker,
                ip=request.remote_addr, signer=signer(), secret_key=secret_key)
            outcome = "linked"
    except DirectoryUnavailable:
        db.commit()  # the audit event of the unavailable directory
        return _render(login, error=translate("account.unavailable"), status=503)
    except NotFound:
        db.rollback()
        return _render(login, error=translate("account.not_found"), status=404)
    except Conflict as problem:
        db.rollback()
        key = CONFLICTS.get(str(problem), "account.conflict")
        return _render(login, error=translate(key), status=409, org=org_id, username=username)
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return _done(outcome)


@bp.post("/account/primary")
def primary() -> Any:
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    try:
        person.choose_primary(db, login.identity, _int(request.form.get("account", "")),
                              actor=account_key(login.account), ip=request.remote_addr)
    except NotFound:
        db.rollback()
        return _render(login, error=translate("account.not_found"), status=404)
    db.commit()
    return _done("primary")


@bp.post("/account/proposals/<int:proposal_id>/reject")
def reject(proposal_id: int) -> Any:
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    try:
        found = person.find_proposal(db, login.identity_id, proposal_id)
        person.reject_proposal_by_person(db, login.account, found)
    except (Conflict, NotFound):
        db.rollback()
        return _render(login, error=translate("account.not_found"), status=404)
    db.commit()
    return _done("rejected")


def _int(value: str) -> int:
    """A form's id field; anything else is an id no row has."""
    return int(value) if value.isdigit() and len(value) < 12 else -1


def _done(outcome: str) -> Response:
    return redirect(f"/account?done={outcome}", code=303)


def _render(login: LoginSession, *, notice: str | None = None, error: str | None = None,
            status: int = 200, org: str = "", username: str = "") -> Any:
    db = context.db()
    identity = get_identity(db, login.identity_id) or login.identity
    settings = context.settings()
    consents = [(c, db.get_one(Client, c.client_pk), _released(c.scope, c.claims))
                for c in consents_of(db, identity.id)]
    proposals = [(p, _accounts_of(db, person.other_side(p, identity.id)))
                 for p in person.proposals_about(db, identity.id)]
    page = render_template(
        "account.html", login=login, identity=identity,
        primary=primary_account(identity, settings.linking.primary_precedence),
        consents=consents, proposals=proposals, organizations=organization_choices(),
        org_names=dict(organization_choices()),
        sessions=len(active_sessions(db, identity.id)), notice=notice, error=error,
        organization=org, username=username)
    return page, status


def _accounts_of(db: Any, identity_id: int) -> list[str]:
    """The other side's universities only: its usernames are not this person's to see
    before they prove the password."""
    other = get_identity(db, identity_id)
    labels = dict(organization_choices())
    orgs = sorted({a.organization for a in other.accounts}) if other is not None else []
    return [labels.get(org, org) for org in orgs]


def _released(scope: str, claims: list[str] | None) -> list[str]:
    """What the person saw listed when consenting (its claims), else its scopes in words."""
    if claims:
        return [translate(f"claim.{name}") for name in claims]
    return [_scope_label(s) for s in scope.split() if s != "openid"]


def _scope_label(scope: str) -> str:
    """What a scope releases, in words; a scope without words is shown as it is."""
    key = f"scope.{scope}"
    text = translate(key)
    return scope if text == key else text
