"""The browser side of single sign-on: the signed cookie holds only the id of a server-side
login session (``idp.storage.sessions``), replaced at each login against session fixation."""

from __future__ import annotations

from datetime import timedelta

from flask import request, session

from idp import context
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import LinkedAccount
from idp.storage.sessions import LoginSession, find_session, new_session_id

KEY = "sid"


def current_login() -> LoginSession | None:
    sid = session.get(KEY)
    return find_session(context.db(), sid) if sid else None


def start_login_session(account: LinkedAccount, auth_time: int) -> LoginSession:
    lifetime = context.settings().server.session_lifetime_s
    login = LoginSession(
        session_id=new_session_id(),
        identity_id=account.identity_id,
        account_id=account.id,
        auth_time=auth_time,
        expires_at=utcnow() + timedelta(seconds=lifetime),
    )
    context.db().add(login)
    pending = session.get("pending", {})
    session.clear()  # a fresh cookie after login: no fixation of an earlier session
    session[KEY] = login.session_id
    session["pending"] = pending
    session.permanent = True
    return login


def end_login_session() -> None:
    """End the server-side session (a copy of the cookie is worthless afterwards), audited."""
    login = current_login()
    if login is not None:
        login.ended_at = utcnow()
        audit.record(context.db(), AuditEventType.LOGOUT, actor=login.identity.sub,
                     identity_id=login.identity_id, ip=request.remote_addr)
    session.clear()
