"""Admin page of dead-lettered deliveries (``/admin/deliveries``): the failed jobs of the
outbox with their last error, and a button to send one, or all, again (the same job, with its
idempotency key; ``idp.provisioning.deliveries``). Consortium admins only: the connectors
serve the whole consortium. Every retry is audited with the staff member as actor."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for

from idp import context
from idp.errors import Conflict, NotFound
from idp.provisioning import deliveries as service
from idp.storage.provisioning import JobState
from idp.web.admin.blueprint import bp
from idp.web.admin.staff import forbidden, staff, staff_required
from idp.web.messages import MESSAGES

REASON = "retried in the admin UI"
SHOWN = 500
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "admin.deliveries": "Failed deliveries",
        "admin.deliveries_intro": "Grants and revokes that a connector refused or that kept "
                                  "failing. Retry sends the same message again (same "
                                  "webhook-id) once the system behind the connector is fixed.",
        "admin.no_deliveries": "No failed deliveries.",
        "admin.job": "Job",
        "admin.connector": "Connector",
        "admin.kind": "Type",
        "admin.resource": "Resource",
        "admin.campus_id": "Campus ID",
        "admin.attempts": "Attempts",
        "admin.last_error": "Last error",
        "admin.retry": "Retry",
        "admin.retry_all": "Retry all failed",
        "admin.retried": "Sent again: {ids}.",
        "admin.not_retried": "Not retried: {message}",
    },
    "ru": {
        "admin.deliveries": "Неудавшиеся доставки",
        "admin.deliveries_intro": "Выдачи и отзывы доступа, которые коннектор отверг или "
                                  "которые не удавались слишком долго. «Повторить» отправляет "
                                  "то же сообщение (тот же webhook-id), когда система за "
                                  "коннектором исправлена.",
        "admin.no_deliveries": "Неудавшихся доставок нет.",
        "admin.job": "Задание",
        "admin.connector": "Коннектор",
        "admin.kind": "Тип",
        "admin.resource": "Ресурс",
        "admin.campus_id": "Campus ID",
        "admin.attempts": "Попытки",
        "admin.last_error": "Последняя ошибка",
        "admin.retry": "Повторить",
        "admin.retry_all": "Повторить все",
        "admin.retried": "Отправлено снова: {ids}.",
        "admin.not_retried": "Не повторено: {message}",
    },
}
for _language, _texts in TEXTS.items():
    MESSAGES[_language].update(_texts)


@bp.get("/deliveries")
@staff_required
def delivery_list() -> Any:
    if not staff().roles.consortium_admin:
        return forbidden(staff(), "failed deliveries (consortium admins only)")
    return _page()


@bp.post("/deliveries/<int:job_id>/retry")
@staff_required
def delivery_retry(job_id: int) -> Any:
    who = staff()
    if not who.roles.consortium_admin:
        return forbidden(who, f"retry of delivery job {job_id} (consortium admins only)")
    db = context.db()
    try:
        service.retry(db, service.find(db, job_id), actor=who.actor.label, reason=REASON)
    except (NotFound, Conflict) as exc:
        db.rollback()
        return _page(problem=exc.public), exc.status_code
    db.commit()
    return redirect(url_for("admin.delivery_list", retried=job_id))


@bp.post("/deliveries/retry-all")
@staff_required
def delivery_retry_all() -> Any:
    who = staff()
    if not who.roles.consortium_admin:
        return forbidden(who, "retry of every failed delivery (consortium admins only)")
    db = context.db()
    retried, _superseded = service.retry_all_failed(db, actor=who.actor.label, reason=REASON)
    db.commit()
    return _page(retried=[j.id for j in retried])


def _page(problem: str | None = None, retried: list[int] | None = None) -> Any:
    failed = service.jobs(context.db(), state=JobState.FAILED.value, limit=SHOWN)
    return render_template("admin/deliveries.html", jobs=failed, problem=problem,
                           retried=retried or [], shown=SHOWN)
