"""The browser side of single sign-on: the signed cookie holds only the id of a server-side
login session (``idp.storage.sessions``), replaced at each login against session fixation."""

from __future__ import annotations

from datetime import timedelta

from flask import g, request, session

from idp import context
from idp.oidc.delivery_worker import hand_off
from idp.oidc.logout import Signer, end_session
from idp.storage.base import utcnow
from idp.storage.identities import LinkedAccount
from idp.storage.sessions import (
    LoginSession,
    SessionRow,
    find_session,
    find_session_row,
    start_session,
)

KEY = "sid"


def current_login() -> LoginSession | None:
    sid = session.get(KEY)
    return find_session(context.db(), sid) if sid else None


def current_login_row() -> SessionRow | None:
    """``current_login`` as one row (``sessions.find_session_row``): for a code issued at once
    (by the request that started the session, without reading it back)."""
    sid = session.get(KEY)
    if not sid:
        return None
    started: tuple[str, SessionRow] | None = g.get(_STARTED)
    if started is not None and started[0] == sid:
        return started[1]
    return find_session_row(context.db(), sid)


_STARTED = "campus_id.started_login"  # (cookie's session id, its row) of this request's login


def start_login_session(account: LinkedAccount, auth_time: int) -> str:
    """A new server-side session for ``account`` in a fresh cookie; returns its id."""
    lifetime = context.settings().server.session_lifetime_s
    session_id, row = start_session(context.db(), account.identity_id, account.id, auth_time,
                                    utcnow() + timedelta(seconds=lifetime))
    setattr(g, _STARTED, (session_id, row))
    pending = session.get("pending", {})
    pushed = session.get("pushed", {})  # pushed requests this browser is in the middle of
    session.clear()  # a fresh cookie after login: no fixation of an earlier session
    session[KEY] = session_id
    session["pending"] = pending
    if pushed:
        session["pushed"] = pushed
    session.permanent = True
    return session_id


def end_login_session(reason: str = "logout", client_id: str | None = None) -> list[int]:
    """End the server-side session (a copy of the cookie is worthless afterwards), audited,
    with its back-channel logout tokens queued; returns their delivery ids, to be delivered
    after commit (``deliver_logout_tokens``)."""
    login = current_login()
    ids = end_any_session(login, reason, client_id) if login is not None else []
    session.clear()
    return ids


def end_any_session(login: LoginSession, reason: str, client_id: str | None = None) -> list[int]:
    """End ``login``, which need not be this browser's session."""
    return end_session(context.db(), login, signer(), ip=request.remote_addr, reason=reason,
                       client_id=client_id, secret_key=context.settings().server.secret_key)


def signer() -> Signer:
    return Signer(context.settings().server.issuer, context.services().keyring())


def deliver_logout_tokens(ids: list[int]) -> None:
    """After the request's commit: posted by the background deliverer, so the page answers
    without waiting for any receiver; failures wait for `idp logout deliver`."""
    hand_off(context.db(), signer(), ids, context.settings().outbound)
