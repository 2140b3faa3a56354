"""ORM objects for rows read or written without the ORM (``idp.storage.on_driver``), made
persistent in a session as if a query had loaded them, without a statement: the use
``make_transient_to_detached`` documents. The login's account and audit event go this way:
building them through the ORM's query or unit of work cost more than their statements.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

T = TypeVar("T")


def adopt(db: Session, kind: type[T], values: dict[str, Any]) -> T:
    """An instance of the mapped class ``kind`` holding ``values`` (its primary key among them)
    as committed, persistent in ``db``; attributes not given (relationships) load on first
    use. The values go into the instance's dict as a query's loading puts them, past the
    constructor's attribute events (whose history would be thrown away at once)."""
    instance = cast(T, inspect(kind).class_manager.new_instance())
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    db.add(instance)
    return instance
