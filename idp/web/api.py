"""The helpdesk API (``/api/v1``, JSON only): find identities, link and unlink accounts,
decide proposals, read an identity's audit trail and its access grants with their reasons,
re-issue a lost campus card, lock and unlock an identity.

Bearer access tokens of this provider's client credentials grant (RFC 6750; looked up by
digest like introspection does), authorised by the client's roles: ``helpdesk`` everywhere,
``helpdesk:ORG`` reads identities with an account of ORG (other organizations' accounts
redacted to their organization, their audit events left out) and changes only what is ORG's
alone: every account of both identities of a link or merge, the account unlinked. Order
of checks in each view: token (401), role (403), input (400/422), lookup (404), organization
scope (403), then the change (409 on conflict), committed before the response with its one
audit event. Errors are ``{"error": ..., "message": ...}``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from idp import context
from idp.errors import Forbidden, IdpError, InvalidInput, NotFound
from idp.identity import lock as identity_lock
from idp.linking import actions, helpdesk, merge
from idp.linking.helpdesk import HelpdeskScope
from idp.provisioning import card_reissue
from idp.provisioning.explain import explain
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.identities import Identity, resolve_sub
from idp.storage.linking import ProposalStatus
from idp.web import api_json
from idp.web.api_common import (
    api_error,
    cursor_arg,
    helpdesk_caller,
    json_body,
    limit_arg,
    no_store,
)
from idp.web.openapi import openapi_document
from idp.web.session import signer

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(IdpError, api_error)
bp.after_request(no_store)
_caller = helpdesk_caller


def _actor(client: Client) -> str:
    return f"client:{client.client_id}"


def _identity(sub: str, scope: HelpdeskScope) -> tuple[Identity, bool]:
    found = resolve_sub(context.db(), sub)
    if found is None:
        raise NotFound(f"sub {sub!r}", public="No identity has this sub.")
    _check_scope(scope, found[0])
    return found


def _check_scope(scope: HelpdeskScope, *identities: Identity) -> None:
    for identity in identities:
        if not scope.covers(identity):
            raise Forbidden(f"identity {identity.id} outside {scope.organizations}",
                            public="This identity has no account of your organization.")


def _check_owned(scope: HelpdeskScope, *identities: Identity) -> None:
    """A change: every account of every identity involved must be in the scope."""
    for identity in identities:
        if not scope.owns(identity):
            raise Forbidden(f"identity {identity.id} has accounts outside {scope.organizations}",
                            public="This change involves another organization's account; "
                                   "it needs the consortium helpdesk.")


def _page(items: list[dict[str, Any]], cursor: int | None) -> Response:
    return jsonify(items=items, next_cursor=str(cursor) if cursor is not None else None)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(context.settings().server.issuer))


@bp.get("/identities")
def search_identities() -> Response:
    _client, scope = _caller()
    q = request.args.get("q", "").strip()
    if not q or len(q) > 200:
        raise InvalidInput("q", public="q (1 to 200 characters) is required.")
    found, cursor = helpdesk.search(context.db(), q, organizations=context.settings().organizations,
                                    scope=scope, limit=limit_arg(), after=cursor_arg(),
                                    snils=helpdesk.SnilsSearch.of(context.settings()))
    return _page([api_json.identity_summary(i, _precedence(), scope) for i in found], cursor)


@bp.get("/identities/<sub>")
def show_identity(sub: str) -> Response:
    _client, scope = _caller()
    identity, via_alias = _identity(sub, scope)
    return jsonify(api_json.identity_details(context.db(), identity, _precedence(),
                                             requested=sub if via_alias else None, scope=scope))


@bp.get("/identities/<sub>/access")
def show_access(sub: str) -> Response:
    """What ``idp access explain`` prints: every grant, its state, since, until and why."""
    _client, scope = _caller()
    identity, _ = _identity(sub, scope)
    return jsonify(helpdesk.redact_access(explain(context.db(), context.settings(), identity),
                                          scope, context.settings().organizations))


@bp.post("/identities/<sub>/card/reissue")
def reissue_card(sub: str) -> Response:
    """A lost campus card: the old number revoked, a new one issued (both audited), each
    library the person holds told both numbers. ``helpdesk:ORG`` may re-issue the card of a
    person with an account of ORG: the card is the person's, not an account's."""
    client, scope = _caller()
    reason = card_reissue.check_reason(json_body().get("reason"))
    identity, _ = _identity(sub, scope)
    db = context.db()
    done = card_reissue.reissue(db, context.settings(), identity, reason=reason,
                                actor=_actor(client), now=utcnow())
    body = done.as_json()
    db.commit()
    return _json(body, 200)


@bp.post("/identities/<sub>/accounts")
def link(sub: str) -> Response:
    client, scope = _caller()
    body = json_body()
    reason = merge.check_reason(body.get("reason"))
    merge.parse_account_key(body.get("account"))
    identity, _ = _identity(sub, scope)
    db = context.db()
    account = merge.find_account_by_key(db, body["account"])
    _check_scope(scope, account.identity)
    _check_owned(scope, identity, account.identity)
    outcome, queued = actions.link(db, signer(), identity, account, reason=reason,
                                   actor=_actor(client), settings=context.settings())
    db.commit()
    actions.deliver_now(db, signer(), queued)
    details = api_json.identity_details(db, outcome.survivor, _precedence(), scope=scope)
    return _json({**details, "merged_sub": outcome.absorbed_sub}, 200)


@bp.delete("/identities/<sub>/accounts/<key>")
def unlink(sub: str, key: str) -> Response:
    client, scope = _caller()
    reason = merge.check_reason(json_body().get("reason", request.args.get("reason")))
    organization, _username = merge.parse_account_key(key)
    identity, _ = _identity(sub, scope)
    if not scope.includes(organization):
        raise Forbidden(f"unlink of {key!r} outside {scope.organizations}",
                        public="This account is another organization's; unlinking it needs "
                               "the consortium helpdesk.")
    db = context.db()
    created, queued = actions.unlink(db, signer(), identity, key, reason=reason,
                                     actor=_actor(client), settings=context.settings())
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return _json({"identity": api_json.identity_details(db, identity, _precedence(), scope=scope),
                  "new_identity": api_json.identity_details(db, created, _precedence(),
                                                            scope=scope)}, 200)


@bp.post("/identities/<sub>/lock", defaults={"change": "lock"})
@bp.post("/identities/<sub>/unlock", defaults={"change": "unlock"})
def lock_or_unlock(sub: str, change: str) -> Response:
    """Lock: no login anywhere, sessions and tokens ended, grants ended; unlock: grants
    recomputed. ``helpdesk:ORG`` only on an identity whose every account is ORG's."""
    client, scope = _caller()
    reason = merge.check_reason(json_body().get("reason"))
    identity, _ = _identity(sub, scope)
    _check_owned(scope, identity)
    db = context.db()
    actor, ip, organization = _actor(client), request.remote_addr, scope.organization_of(identity)
    if change == "lock":
        done = identity_lock.lock(db, context.settings(), signer(), identity, reason=reason,
                                  actor=actor, ip=ip, organization=organization)
    else:
        done = identity_lock.unlock(db, context.settings(), identity, reason=reason, actor=actor,
                                    ip=ip, organization=organization)
    db.commit()
    actions.deliver_now(db, signer(), list(done.logout_tokens))
    return _json(api_json.lock_outcome(identity, done), 200)


@bp.get("/proposals")
def list_proposals() -> Response:
    _client, scope = _caller()
    status = request.args.get("status", ProposalStatus.PENDING.value)
    if status not in {s.value for s in ProposalStatus} | {"all"}:
        raise InvalidInput(f"status={status!r}",
                           public="status is pending, approved, rejected or all.")
    db = context.db()
    found, cursor = helpdesk.proposals(db, scope, status=None if status == "all" else status,
                                       limit=limit_arg(),
                                       after=cursor_arg())
    return _page([api_json.proposal(db, p) for p in found], cursor)


@bp.post("/proposals/<int:proposal_id>/<any(approve, reject):decision>")
def decide(proposal_id: int, decision: str) -> Response:
    client, scope = _caller()
    reason = merge.check_reason(json_body().get("reason"))
    db = context.db()
    proposal = helpdesk.find_proposal(db, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}", public="No such proposal.")
    involved = [merge.current_identity(db, db.get_one(Identity, i))
                for i in (proposal.identity_id, proposal.candidate_identity_id)]
    queued: list[int] = []
    if decision == "approve":  # a merge: every account of both identities must be in scope
        _check_scope(scope, *involved)
        _check_owned(scope, *involved)
        _outcome, queued = actions.approve(db, signer(), proposal, reason=reason,
                                           actor=_actor(client), settings=context.settings())
    else:  # nothing changes but the queue: either identity will do
        if not any(scope.covers(i) for i in involved):
            raise Forbidden(f"proposal {proposal_id} outside {scope.organizations}",
                            public="Neither identity has an account of your organization.")
        actions.reject(db, proposal, reason=reason, actor=_actor(client))
    db.commit()
    actions.deliver_now(db, signer(), queued)
    return _json(api_json.proposal(db, proposal), 200)


@bp.get("/audit")
def audit_trail() -> Response:
    _client, scope = _caller()
    sub = request.args.get("sub", "")
    if not sub:
        raise InvalidInput("no sub", public="sub is required.")
    identity, _ = _identity(sub, scope)
    before = cursor_arg() or None
    events, cursor = helpdesk.audit_trail(context.db(), identity, limit=limit_arg(), before=before,
                                          scope=scope)
    organizations = list(context.settings().organizations)
    return _page([api_json.audit_event(e, scope, organizations) for e in events], cursor)


def _precedence() -> tuple[str, ...]:
    return context.settings().linking.primary_precedence


def _json(body: dict[str, Any], status: int) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp
