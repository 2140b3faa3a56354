"""The admin UI's failed deliveries page: a consortium admin sees the dead letters with their
last error and sends one, or all, again (CSRF-checked, audited); an organization admin is
refused (403, audited)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from idp.storage.audit import AuditEvent
from idp.storage.provisioning import DeliveryJob
from tests.flows.test_admin_ui import (  # noqa: F401 (the fixtures)
    admin_app,
    admin_settings,
    staff_browser,
)
from tests.flows.test_deliveries_api import FAILED, add_jobs
from tests.support.admin import post_form


def states(app: Flask) -> list[str]:
    with app.extensions["campus_id"].sessions() as db:
        return [j.state for j in db.scalars(select(DeliveryJob).order_by(DeliveryJob.id))]


def test_a_consortium_admin_retries_failed_deliveries(admin_app: Flask) -> None:  # noqa: F811
    first, _done, second = add_jobs(admin_app, FAILED, {"state": "done"},
                                    {**FAILED, "last_error": "gave up after 259200 s: timeout"})
    boss, _ = staff_browser(admin_app, "tpu", "ikuznetsov")
    page = boss.get("/admin/deliveries")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="job-{first}"' in html and f'id="job-{second}"' in html
    assert "HTTP 404: no such patron" in html and f'id="job-{_done}"' not in html
    assert boss.post(f"/admin/deliveries/{first}/retry").status_code == 400  # no CSRF token
    retried = post_form(boss, page, f"/admin/deliveries/{first}/retry", {})
    assert retried.status_code == 302
    assert states(admin_app) == ["pending", "done", "failed"]
    again = post_form(boss, page, f"/admin/deliveries/{first}/retry", {})
    assert again.status_code == 409 and "is pending, not failed" in again.get_data(as_text=True)
    everything = post_form(boss, page, "/admin/deliveries/retry-all", {})
    assert everything.status_code == 200 and str(second) in everything.get_data(as_text=True)
    assert states(admin_app) == ["pending", "done", "pending"]
    with admin_app.extensions["campus_id"].sessions() as db:
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.type == "delivery.retried")))
        assert [e.details["job"] for e in events] == [first, second]
        assert all(e.actor.startswith("staff:") for e in events)


def test_an_organization_admin_is_refused(admin_app: Flask) -> None:  # noqa: F811
    [failed] = add_jobs(admin_app, FAILED)
    tsu_admin, html = staff_browser(admin_app, "tsu", "ivan.petrov")
    assert "/admin/deliveries" not in html  # no link in the menu
    page = tsu_admin.get("/admin/deliveries")
    assert page.status_code == 403
    refused = post_form(tsu_admin, tsu_admin.get("/admin/tokens"),
                        f"/admin/deliveries/{failed}/retry", {})
    assert refused.status_code == 403
    assert states(admin_app) == ["failed"]
