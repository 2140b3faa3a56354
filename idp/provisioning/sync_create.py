"""Creating the accounts a directory listing names for the first time, a page in a few
statements: a new identity for each (its sub and campus id checked unused for the page at
once, as ``new_identity`` checks one), the account with its helpdesk search terms and the
``identity.created`` event, then the linking rules. An account whose match values meet
nothing (no stored fingerprint, no other new account of the page) and are all valid just gets
its fingerprint rows, as ``link_at_login`` would leave them; any other goes through
``link_at_login`` itself, so a joint student's second account moves onto the identity of the
first before either has logged in. Runs in the caller's transaction; the caller holds the
match keys' locks (``idp.storage.linking.lock_match_keys``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from idp.directory.base import DirectoryEntry
from idp.identity.claims import kept_attributes
from idp.linking import fingerprints as fp
from idp.linking.rules import Linker, link_at_login
from idp.provisioning.sync_run import SyncRun
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import Base
from idp.storage.identities import (
    ACTIVE,
    DISABLED,
    IN_DIRECTORY,
    Identity,
    IdentityAlias,
    LinkedAccount,
    new_campus_id,
    new_sub,
)
from idp.storage.linking import MatchFingerprint
from idp.storage.search import AccountSearchTerm, terms_of


def create_accounts(db: Session, run: SyncRun, linker: Linker, entries: Sequence[DirectoryEntry],
                    evaluations: Mapping[str, list[fp.Evaluation]]) -> dict[int, Identity | None]:
    """Create the accounts of ``entries`` (all unknown). Returns the identities they end up
    on, by id: an identity made here as an unsaved copy of the rows just written (identity
    and its one account; never to be added to the session), or None for one to read, such as
    the identity a linking rule moved an account onto."""
    if not entries:
        return {}
    identities = _insert_identities(db, run, len(entries))
    rows = [{"identity_id": identity_id, "organization": run.organization,
             "external_id": e.account.external_id, "username": e.account.username,
             "attributes": kept_attributes(e.account.attributes), "linked_at": run.now,
             "last_login_at": None, "staff_role": False,
             "directory_state": DISABLED if e.disabled else IN_DIRECTORY,
             "directory_seen_at": run.now}
            for (identity_id, _, _), e in zip(identities, entries, strict=True)]
    insert_rows(db, LinkedAccount, rows)
    by_external_id = dict(db.execute(select(LinkedAccount.external_id, LinkedAccount.id).where(
        LinkedAccount.organization == run.organization,
        among(db, LinkedAccount.external_id, [e.account.external_id for e in entries]))).all())
    account_ids = [by_external_id[e.account.external_id] for e in entries]
    insert_rows(db, AccountSearchTerm, [
        {"account_id": account_id, "term": term}
        for account_id, row in zip(account_ids, rows, strict=True)
        for term in terms_of(str(row["username"]), cast(dict[str, Any], row["attributes"]))])
    insert_rows(db, AuditEvent, [
        {"at": run.now, "type": AuditEventType.IDENTITY_CREATED.value, "actor": "system",
         "identity_id": identity_id, "client_id": None, "organization": run.organization,
         "ip": None, "details": {"sub": sub, "campus_id": campus_id,
                                 "account": f"{run.organization}:{e.account.username}",
                                 "source": "directory sync"}}
        for (identity_id, sub, campus_id), e in zip(identities, entries, strict=True)])
    linked = _link(db, run, linker, dict(zip(account_ids, entries, strict=True)), evaluations)
    result: dict[int, Identity | None] = {}
    for account_id, row, (identity_id, sub, campus_id) in zip(account_ids, rows, identities,
                                                              strict=True):
        if account_id in linked:
            result[linked[account_id]] = None
        else:
            copy = Identity(id=identity_id, sub=sub, campus_id=campus_id, status=ACTIVE,
                            created_at=run.now, merged_into_id=None)
            copy.accounts = [LinkedAccount(id=account_id, **row)]
            result[identity_id] = copy
    return result


def among(db: Session, column: InstrumentedAttribute[Any], values: Collection[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY`` of one array, a statement the driver
    prepares once instead of parsing a page's worth of parameters each time."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("among", list(values), type_=ARRAY(column.type),
                                        unique=True))
    return column.in_(values)


def _insert_identities(db: Session, run: SyncRun, count: int) -> list[tuple[int, str, str]]:
    """(id, sub, campus_id) of ``count`` new identities, each sub no identity's and no alias's
    and each campus id no identity's (a collision is drawn again)."""
    subs: set[str] = set()
    campus_ids: set[str] = set()
    while len(subs) < count or len(campus_ids) < count:
        draw_subs = {new_sub() for _ in range(count - len(subs))} - subs
        draw_ids = {new_campus_id() for _ in range(count - len(campus_ids))} - campus_ids
        subs |= (draw_subs - _taken(db, Identity.sub, draw_subs)
                 - _taken(db, IdentityAlias.sub, draw_subs))
        campus_ids |= draw_ids - _taken(db, Identity.campus_id, draw_ids)
    pairs = list(zip(sorted(subs), sorted(campus_ids), strict=True))
    # Ids read back by sub: ``insert_rows`` returns none.
    insert_rows(db, Identity, [{"sub": sub, "campus_id": campus_id, "status": ACTIVE,
                               "created_at": run.now, "merged_into_id": None}
                              for sub, campus_id in pairs])
    ids = dict(db.execute(select(Identity.sub, Identity.id).where(
        among(db, Identity.sub, subs))).all())
    return [(ids[sub], sub, campus_id) for sub, campus_id in pairs]


def _taken(db: Session, column: InstrumentedAttribute[str], values: set[str]) -> set[str]:
    if not values:
        return set()
    return set(db.scalars(select(column).where(among(db, column, values))))


def _link(db: Session, run: SyncRun, linker: Linker, created: Mapping[int, DirectoryEntry],
          evaluations: Mapping[str, list[fp.Evaluation]]) -> dict[int, int]:
    """The linking rules on the accounts just created. Returns, for each account that went
    through ``link_at_login``, the identity it is on afterwards."""
    if not linker.rules:
        return {}
    found = {account_id: evaluations[e.account.external_id] for account_id, e in created.items()}
    digests = Counter((e.rule, e.digest) for evs in found.values() for e in evs
                      if isinstance(e, fp.Fingerprint))
    stored: set[tuple[str, str | None]] = set()
    if digests:
        stored = {(rule, digest) for rule, digest in db.execute(  # the (rule, hash) index
            select(MatchFingerprint.rule, MatchFingerprint.hash)
            .where(among(db, MatchFingerprint.rule, {rule for rule, _ in digests}),
                   among(db, MatchFingerprint.hash, {digest for _, digest in digests})))}
    quiet_rows, full = [], []
    for account_id, evs in found.items():
        if all(isinstance(e, fp.NoValue) or (isinstance(e, fp.Fingerprint)
                                             and (e.rule, e.digest) not in stored
                                             and digests[(e.rule, e.digest)] == 1) for e in evs):
            quiet_rows += [{"account_id": account_id, "rule": e.rule, "hash": e.digest,
                            "updated_at": run.now}
                           for e in evs if isinstance(e, fp.Fingerprint)]
        else:
            full.append(account_id)
    insert_rows(db, MatchFingerprint, quiet_rows)
    linked = {}
    for account_id in full:
        account = db.get_one(LinkedAccount, account_id)
        link_at_login(db, linker, account, created[account_id].account, created=True)
        linked[account_id] = account.identity_id
    return linked


def insert_rows(db: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (every column but the id given) in the session's transaction: by COPY on
    PostgreSQL (a page's rows in one go, where an INSERT a row costs the server a statement
    each), by executemany elsewhere."""
    if not rows:
        return
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        db.execute(insert(model), list(rows))
        return
    import psycopg
    from psycopg.types.json import Json

    table = cast(Table, model.__table__)
    columns = list(rows[0])
    raw = connection.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{table.c[name].name}"' for name in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([Json(v) if isinstance(v, dict | list) else v
                                for v in (row[name] for name in columns)])
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would raise it (a login came first)
        raise IntegrityError(statement, None, exc) from exc
    except psycopg.errors.DeadlockDetected as exc:  # a login creating one of these accounts
        raise OperationalError(statement, None, exc) from exc
