"""My Campus ID (``/account``): what a logged-in person sees and decides about themselves.

Connected services (consents) and revoking one, "log out everywhere", linked accounts with the
primary one and how each was linked ("this was not me" undoes a recent link), linking another
university account by its password, and proposals about the person. Reuses the browser's
login session to show things; every link also asks the session account's password again.
Without a session, the login page sends the person back here. Every form is CSRF-protected
(``idp.web.csrf``), every change is audited by the service function it calls, and each POST
ends in a redirect back to the page with a one-word outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import context
from idp.directory.base import AuthStatus, DirectoryAccount
from idp.errors import Conflict, DirectoryUnavailable, Forbidden, NotFound
from idp.identity.claims import primary_account
from idp.identity.consents import revoke_consent
from idp.identity.login import PasswordProof, check_password
from idp.linking import actions, history, person
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.grants import consents_of, find_consent
from idp.storage.identities import account_key, get_identity
from idp.storage.linking import LinkProposal
from idp.storage.sessions import LoginSession, active_sessions
from idp.web import account_card
from idp.web.account_access import what_you_can_use
from idp.web.i18n import translate, wait_text
from idp.web.login import STATUS_MESSAGES
from idp.web.login_page import organization_choices
from idp.web.passes import passes_for_page, renew_every_s
from idp.web.security import content_security_policy
from idp.web.session import (
    current_login,
    deliver_logout_tokens,
    end_any_session,
    end_login_session,
    signer,
)

bp = Blueprint("account", __name__)
bp.register_blueprint(account_card.bp)  # /account/card.svg
DONE = ("revoked", "logged_out", "linked", "primary", "accepted", "rejected", "undone")
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


@dataclass(frozen=True)
class LinkForm:
    """The link form: the session account's password again, then the other account's."""

    current_password: str
    organization: str
    username: str
    password: str
    proposal: str

    @classmethod
    def parse(cls, form: Any) -> LinkForm:
        return cls(form.get("current_password", ""), form.get("organization", ""),
                   form.get("username", "").strip()[:MAX_USERNAME], form.get("password", ""),
                   form.get("proposal", ""))


@bp.post("/account/link")
def link() -> Any:
    """Prove the session's account again, then another account's password: link it, or
    accept the proposal named in the form. The session alone never links."""
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    form = LinkForm.parse(request.form)
    try:
        proposal = (person.find_proposal(db, login.identity_id, _int(form.proposal))
                    if form.proposal else None)
        db.commit()  # the reads so far: no transaction (on SQLite the write lock) across binds
        refused = _incomplete(db, login, form) or _reauthenticate(db, login, form)
        if refused is not None:
            return refused
        directory = context.services().directories[form.organization]
        proof = check_password(db, directory, form.username, form.password,
                               ip=request.remote_addr, throttle=context.throttle())
        if proof.found is None:
            audit.record(db, AuditEventType.LINK_PROOF_FAILED, actor=account_key(login.account),
                         identity_id=login.identity_id, organization=form.organization,
                         ip=request.remote_addr, attempted=form.username[:64],
                         throttled=proof.retry_after_s is not None)
            db.commit()
            return _refused(login, proof, form, "login.invalid")
        queued, outcome = _link_or_accept(db, login, proposal, proof.found)
    except DirectoryUnavailable:
        db.commit()  # the audit event of the unavailable directory
        return _render(login, error=translate("account.unavailable"), status=503)
    except NotFound:
        db.rollback()
        return _render(login, error=translate("account.not_found"), status=404)
    except Conflict as problem:
        db.rollback()
        key = CONFLICTS.get(str(problem), "account.conflict")
        return _render(login, error=translate(key), status=409, org=form.organization,
                       username=form.username)
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return _done(outcome)


def _incomplete(db: Session, login: LoginSession, form: LinkForm) -> Any | None:
    """A 400 for a form missing a field or naming no university; a link tried without the
    current password is audited (``person.reauthenticate``) before it is refused."""
    if not form.current_password:
        person.reauthenticate(db, None, login.account, "", ip=request.remote_addr,
                              throttle=context.throttle())
        db.commit()
        return _render(login, error=translate("account.reauth_missing"), status=400,
                       org=form.organization, username=form.username)
    if not form.username or not form.password:
        return _render(login, error=translate("login.missing"), status=400,
                       org=form.organization, username=form.username)
    if form.organization not in context.services().directories:
        return _render(login, error=translate("login.unknown_org"), status=400)
    return None


def _reauthenticate(db: Session, login: LoginSession, form: LinkForm) -> Any | None:
    """The session account's password, checked again like a login: a 401 or 429 unless right."""
    directory = context.services().directories.get(login.account.organization)
    proof = person.reauthenticate(db, directory, login.account, form.current_password,
                                  ip=request.remote_addr, throttle=context.throttle())
    if proof.found is not None:
        return None
    db.commit()
    return _refused(login, proof, form, "account.reauth_invalid")


def _refused(login: LoginSession, proof: PasswordProof, form: LinkForm, invalid: str) -> Any:
    """A failed password check, as the login page tells it: 429 with ``Retry-After`` when
    throttled, else 401 (``invalid``: the text for a wrong password)."""
    if proof.retry_after_s is not None:
        error = translate("login.throttled", wait=wait_text(proof.retry_after_s))
        response = make_response(_render(login, error=error, status=429, org=form.organization,
                                         username=form.username))
        response.headers["Retry-After"] = str(proof.retry_after_s)
        return response
    key = invalid if proof.status is AuthStatus.INVALID_CREDENTIALS else STATUS_MESSAGES[proof.status]
    return _render(login, error=translate(key), status=401, org=form.organization,
                   username=form.username)


def _link_or_accept(db: Session, login: LoginSession, proposal: LinkProposal | None,
                    proven: DirectoryAccount) -> tuple[list[int], str]:
    settings = context.settings()
    if proposal is not None:
        return person.accept_proposal(db, login.identity, login.account, proposal, proven,
                                      signer=signer(), settings=settings), "accepted"
    return person.link_proven_account(
        db, login.identity, login.account, proven, linker=context.services().linker,
        ip=request.remote_addr, signer=signer(), settings=settings), "linked"


@bp.post("/account/links/<int:account_id>/undo")
def undo(account_id: int) -> Any:
    """"This was not me": the account leaves the identity for one of its own."""
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    identity = get_identity(db, login.identity_id) or login.identity
    try:
        _created, queued = person.undo_link(
            db, signer(), identity, login.account, account_id, ip=request.remote_addr,
            settings=context.settings())
    except NotFound:
        db.rollback()
        return _render(login, error=translate("account.not_found"), status=404)
    except Forbidden:
        db.commit()  # the audit event of the refusal
        return _render(login, error=translate("account.not_undoable"), status=403)
    except Conflict:
        db.rollback()
        return _render(login, error=translate("account.conflict"), status=409)
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return _done("undone")


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
    now = utcnow()
    arrivals = [(a, history.may_undo(a, login.account, now))
                for a in history.arrivals(db, identity)]
    passes = passes_for_page(db, settings, identity)
    page = render_template(
        "account.html", login=login, identity=identity, arrivals=arrivals,
        session_account=account_key(login.account),
        primary=primary_account(identity, settings.linking.primary_precedence),
        consents=consents, proposals=proposals, organizations=organization_choices(),
        org_names=dict(organization_choices()),
        sessions=len(active_sessions(db, identity.id)), notice=notice, error=error,
        organization=org, username=username, access=what_you_can_use(db, settings, identity),
        card=account_card.campus_card(db, identity),
        passes=passes, renew_s=renew_every_s(settings))
    if passes:  # pass.js renews them: the page's own script, fetching from its own origin
        return page, status, {"Content-Security-Policy": content_security_policy(scripts=True)}
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
