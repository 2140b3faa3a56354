"""``idp backup FILE`` and ``idp restore FILE``: the whole database while the provider runs, and
back into an empty database (docs/operations.md, "Backup and restore").

A backup is refused when the configured ``secret_key`` does not open the signing keys in the
database (it would record a secret that cannot restore them); a restore is refused, before it
writes anything, for the reasons ``idp.storage.backup.check_backup`` and ``check_target_empty``
give. Exit codes: 2 refused (wrong secret, newer schema, other database kind, not a backup),
4 the target is not empty, 1 any other failure (a tool missing or failing, the deadline passed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from idp.cli.shared import Exit, main, settings_of
from idp.oidc.key_backup import published_kids, secret_fingerprint, undecryptable_kids
from idp.storage.backup import check_backup, check_target_empty, kind_of, make_backup, restore_backup
from idp.storage.backup_archive import BackupError, BackupRefused, TargetNotEmpty, read_manifest
from idp.storage.backup_postgres import Deadline
from idp.storage.base import make_engine, utcnow
from idp.storage.migrate import current_revision, first_line

DEADLINE_S = 3600


def _timeout_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=DEADLINE_S,
                        show_default=True, metavar="SECONDS",
                        help="Total time allowed; pg_dump or pg_restore is stopped after it.")(function)


def _stop(title: str, exc: BackupError) -> NoReturn:
    click.echo(f"{title}: {exc}", err=True)
    code = Exit.CONFLICT if isinstance(exc, TargetNotEmpty) else (
        Exit.INVALID if isinstance(exc, BackupRefused) else Exit.FAILED)
    sys.exit(code)


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_timeout_option
@click.pass_context
def backup(ctx: click.Context, file: Path, timeout_s: float) -> None:
    """Back up the database to FILE (a new file) while the provider runs."""
    settings = settings_of(ctx)
    secret = settings.server.secret_key
    engine = make_engine(settings.database.url)
    try:
        if current_revision(engine) is None:
            raise BackupRefused("the database has no Campus ID schema: nothing to back up.")
        with engine.connect() as conn:
            failed = undecryptable_kids(conn, secret)
            kids = published_kids(conn)
        if failed:
            raise BackupRefused(f"the configured secret_key does not open the signing keys "
                                f"{', '.join(failed)} in this database: back up with the "
                                "provider's own configuration.")
        manifest = make_backup(engine, file.absolute(), fingerprint=secret_fingerprint(secret),
                               signing_keys=kids, deadline=Deadline(timeout_s), now=utcnow())
    except BackupError as exc:
        _stop("Nothing backed up", exc)
    except DBAPIError as exc:
        _stop("Nothing backed up", BackupError(f"cannot read the database: {first_line(exc)}"))
    finally:
        engine.dispose()
    click.echo(f"Backed up the {manifest.database} database at revision {manifest.revision} to "
               f"{file} ({manifest.payload_bytes} bytes, {manifest.tool}).")
    click.echo(f"Signing keys: {', '.join(manifest.signing_keys) or 'none'}; sealed under the "
               f"secret_key with fingerprint {manifest.secret_key_fingerprint}. Keep that "
               "secret_key: without it this backup restores keys nobody can use.")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_timeout_option
@click.pass_context
def restore(ctx: click.Context, file: Path, timeout_s: float) -> None:
    """Restore FILE into the configured database, which must be empty; an older schema is
    then upgraded to the current one."""
    settings = settings_of(ctx)
    secret = settings.server.secret_key

    def verify(conn: Connection) -> None:
        failed = undecryptable_kids(conn, secret)
        if failed:
            raise BackupRefused(f"the configured secret_key does not open the restored signing "
                                f"keys {', '.join(failed)}.")

    try:
        manifest = read_manifest(file)
        check_backup(manifest, kind_of(settings.database.url), fingerprint=secret_fingerprint(secret))
    except BackupError as exc:
        _stop("Nothing restored", exc)
    engine = make_engine(settings.database.url)  # creates a missing SQLite file (mode 0600)
    try:
        check_target_empty(engine)
        upgraded_from = restore_backup(file, manifest, engine, verify=verify,
                                       deadline=Deadline(timeout_s))
    except BackupError as exc:
        _stop("Nothing restored" if isinstance(exc, BackupRefused) else "Restore failed", exc)
    except DBAPIError as exc:
        _stop("Restore failed", BackupError(f"cannot use the database: {first_line(exc)}"))
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    click.echo(f"Restored the backup of {manifest.created_at} (revision {manifest.revision}) "
               f"into {where}.")
    if upgraded_from:
        click.echo(f"Upgraded the schema from revision {upgraded_from} to the current one.")
    click.echo(f"Signing keys: {', '.join(manifest.signing_keys) or 'none'}.")
