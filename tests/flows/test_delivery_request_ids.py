"""One helpdesk click, followed to the back-channel deliveries it caused (docs/operations.md,
"Logs"): the Security Event Tokens a link queues are posted off the request, by the process's
background deliverer, and their audit events carry the click's request id; so does a later
retry, whoever runs it (`idp logout deliver`, the worker's periodic task), under its own id."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp import request_id as request_ids
from idp.oidc.backchannel import deliver
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import utcnow
from idp.storage.logout import DeliveryKind, LogoutDelivery
from idp.web.session import Signer
from tests.flows.test_helpdesk_api import HELPDESK, call, log_in, token_of
from tests.flows.test_identity_events import (  # noqa: F401  (fixtures)
    ISSUER,
    RP1,
    Receiver,
    api,
    app,
    database,
    receiver,
)
from tests.support.receiver import settled


def audited(provider: Flask, *types: AuditEventType) -> list[AuditEvent]:
    with provider.extensions["campus_id"].sessions() as db:
        return list(db.scalars(select(AuditEvent).where(
            AuditEvent.type.in_([t.value for t in types])).order_by(AuditEvent.id)))


def link(provider: Flask, staff: FlaskClient, click: str) -> str:
    """The helpdesk links tsu:viktor.zhukov to the tpu account's identity, sending ``click``
    as its request id; the surviving sub."""
    sub = log_in(provider, "tpu", "vzhukov", rp=RP1)["claims"]["sub"]
    log_in(provider, "tsu", "viktor.zhukov", rp=RP1)
    token = token_of(staff, HELPDESK)
    staff.environ_base["HTTP_X_REQUEST_ID"] = click
    linked = call(staff, "POST", f"/identities/{sub}/accounts", token,
                  json={"account": "tsu:viktor.zhukov", "reason": "ticket 7"})
    del staff.environ_base["HTTP_X_REQUEST_ID"]
    assert linked.status_code == 200, linked.json
    return str(sub)


def test_the_deliveries_of_a_click_carry_its_request_id(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:  # noqa: F811
    link(app, api, "helpdesk-click-1")
    settled(app)
    assert [path for path, _ in receiver.received] == ["rp1"]

    [merged] = audited(app, AuditEventType.IDENTITY_MERGED)
    [delivered] = audited(app, AuditEventType.SECURITY_EVENT_DELIVERED)
    assert merged.request_id == delivered.request_id == "helpdesk-click-1"
    with app.extensions["campus_id"].sessions() as db:
        [row] = db.scalars(select(LogoutDelivery)).all()
        assert row.request_id == "helpdesk-click-1"  # kept with the queued row


def test_a_retry_run_elsewhere_still_carries_the_click_s_id(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:  # noqa: F811
    receiver.up = False
    link(app, api, "helpdesk-click-2")
    settled(app)
    [failed] = audited(app, AuditEventType.SECURITY_EVENT_DELIVERY_FAILED)
    assert failed.request_id == "helpdesk-click-2"  # posted in the deliverer's thread

    receiver.up = True
    services = app.extensions["campus_id"]
    outcome: list[tuple[int, int]] = []

    def retry_run() -> None:  # as `idp logout deliver` or the worker's task: an id of its own
        with request_ids.bound("retry-run"), services.sessions() as db:
            row = db.scalars(select(LogoutDelivery).where(
                LogoutDelivery.kind == DeliveryKind.SECURITY_EVENT.value)).one()
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
            db.commit()
            outcome.append(deliver(db, Signer(ISSUER, services.keyring()),
                                   limits=services.settings.outbound))

    runner = threading.Thread(target=retry_run)
    runner.start()
    runner.join(30)
    assert outcome == [(1, 0)]
    [delivered] = audited(app, AuditEventType.SECURITY_EVENT_DELIVERED)
    assert delivered.request_id == "helpdesk-click-2"


def test_a_row_queued_without_an_id_gets_a_fresh_one_per_run(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:  # noqa: F811
    """A row from before rows kept their request's id, delivered by a run that has none (a
    thread of the deliverer): its audit event still has an id, not an empty one."""
    receiver.up = False
    link(app, api, "helpdesk-click-3")
    settled(app)
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        row = db.scalars(select(LogoutDelivery)).one()
        row.request_id, row.next_attempt_at = None, utcnow() - timedelta(seconds=1)
        db.commit()
    receiver.up = True
    outcome: list[tuple[int, int]] = []

    def run() -> None:
        with services.sessions() as db:
            outcome.append(deliver(db, Signer(ISSUER, services.keyring()),
                                   limits=services.settings.outbound))

    runner = threading.Thread(target=run)  # a new thread: no current id
    runner.start()
    runner.join(30)
    assert outcome == [(1, 0)]
    [delivered] = audited(app, AuditEventType.SECURITY_EVENT_DELIVERED)
    assert delivered.request_id and delivered.request_id != "helpdesk-click-3"
