"""The ``idp`` command: check the configuration, migrate the database, register clients, serve.

Every command reads one configuration file (``--config`` or ``IDP_CONFIG``) and exits non-zero,
listing every problem, when it is invalid.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from sqlalchemy import Engine

from idp.errors import ConfigError, DatabaseNotReady
from idp.oidc.key_metadata import KeyMetadata
from idp.oidc.profiles import PROFILES
from idp.settings import (
    AccessTokenFormat,
    GrantType,
    PkcePolicy,
    RefreshTokenPolicy,
    Settings,
    load_settings,
)
from idp.settings.model import DEFAULT_CLIENT_SCOPES


def _fail(title: str, problems: list[str]) -> None:
    click.echo(title, err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(2)


@click.group()
@click.option("--config", "config_path", envvar="IDP_CONFIG", metavar="FILE",
              help="Configuration file (or IDP_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Campus ID: single sign-on for a consortium of universities."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def settings_of(ctx: click.Context) -> Settings:
    path = ctx.obj.get("config_path")
    if not path:
        _fail("No configuration file: give --config FILE or set IDP_CONFIG.", [])
    try:
        return load_settings(path)
    except ConfigError as exc:
        _fail(f"The configuration in {path} has {len(exc.problems)} problem(s):", exc.problems)
        raise AssertionError("unreachable") from exc


def _current_engine(settings: Settings) -> Engine:
    """An engine on a database at the latest migration; otherwise exit 2 saying what to run."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import ensure_current

    engine = make_engine(settings.database.url)
    try:
        ensure_current(engine)
    except DatabaseNotReady as exc:
        engine.dispose()
        _fail(exc.detail, [])
    return engine


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration and list every problem."""
    settings = settings_of(ctx)
    click.echo(f"Configuration is valid: issuer {settings.server.issuer}, "
               f"{len(settings.organizations)} organization(s), {len(settings.clients)} static client(s).")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the migrations (creates the database on first run)."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import current_revision, upgrade

    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    upgrade(engine, revision)
    click.echo(f"Database is at revision {current_revision(engine)}.")
    engine.dispose()


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's migration revision."""
    from idp.storage.base import make_engine
    from idp.storage.migrate import current_revision, head_revision

    settings = settings_of(ctx)
    engine = make_engine(settings.database.url)
    click.echo(f"current: {current_revision(engine)}  head: {head_revision()}")
    engine.dispose()


@main.group()
def clients() -> None:
    """Relying parties."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Repeatable; needed by the authorization_code grant.")
@click.option("--public", is_flag=True, help="A client that cannot keep a secret (PKCE required).")
@click.option("--pkce", type=click.Choice([p.value for p in PkcePolicy]), default="required",
              show_default=True)
@click.option("--trusted", is_flag=True, help="First-party client: no consent screen.")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256", "EdDSA"]), default="RS256",
              show_default=True, help="Signs its ID tokens and its JWT access tokens.")
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice([g.value for g in GrantType]),
              help="Repeatable; authorization_code when none is given.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help=f"Repeatable: the scopes it may have; {' '.join(DEFAULT_CLIENT_SCOPES)} "
                   "when none is given. offline_access comes with the refresh_token grant.")
@click.option("--access-token-format", type=click.Choice([f.value for f in AccessTokenFormat]),
              default="opaque", show_default=True, help="jwt: RFC 9068 access tokens.")
@click.option("--access-token-audience", default="", metavar="URI",
              help="The aud of its JWT access tokens; the issuer when not given.")
@click.option("--refresh-token-policy", type=click.Choice([p.value for p in RefreshTokenPolicy]),
              default="offline_access", show_default=True,
              help="With the refresh_token grant: only when offline_access is granted, or always.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              metavar="URI", help="Repeatable: where RP-initiated logout may send people back.")
@click.option("--backchannel-logout-uri", default="", metavar="URI",
              help="Receives a logout token when a session it took part in ends.")
@click.option("--event-delivery-uri", default="", metavar="URI",
              help="Receives Security Event Tokens (RFC 8417) when a person it knows is merged "
                   "or split; see docs/helpdesk-api.md.")
@click.option("--role", "roles", multiple=True, metavar="ROLE",
              help="Repeatable, client_credentials only: helpdesk (every organization) or "
                   "helpdesk:ORG (identities with an account of ORG) on the helpdesk API; "
                   "consortium_admin or org_admin:ORG on the client management API.")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default=None,
              help="Preset for known software: moodle (client_secret_post, PKCE optional, "
                   "redirect URI <wwwroot>/admin/oauth2callback.php); see docs/moodle.md.")
@click.option("--token-endpoint-auth-method", default=None,
              type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
              help="How it authenticates (a confidential client may use either secret method "
                   "when not given); private_key_jwt needs --jwks-uri or --jwks-file and gets no "
                   "secret. See docs/client-authentication.md.")
@click.option("--jwks-uri", default="", metavar="URL",
              help="Where its public keys are published (https): private_key_jwt and signed "
                   "request objects.")
@click.option("--jwks-file", type=click.File("r"), default=None, metavar="FILE",
              help="Its public keys as a JWK set in a JSON file, instead of --jwks-uri.")
@click.option("--subject-type", type=click.Choice(["public", "pairwise"]), default="public",
              show_default=True, help="pairwise: a sub of its own sector (the redirect URIs' "
                                      "host, or --sector-identifier-uri).")
@click.option("--sector-identifier-uri", default="", metavar="URL",
              help="pairwise only: a JSON array of URIs that lists all its redirect URIs.")
@click.option("--json", "as_json", is_flag=True, help="Print the client id and secret as JSON.")
@click.pass_context
def clients_create(ctx: click.Context, /, **options: Any) -> None:
    """Register a relying party; the secret is shown once."""
    from idp.clients import create_client
    from idp.oidc.key_metadata import sector_fetcher
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    keys = _key_options(options)
    engine = _current_engine(settings)
    with make_session_factory(engine)() as session:
        try:
            created = create_client(
                session,
                name=options["name"],
                redirect_uris=list(options["redirect_uris"]),
                public=options["public"],
                pkce=PkcePolicy(options["pkce"]),
                trusted=options["trusted"],
                id_token_signed_response_alg=options["id_token_alg"],
                grant_types=[GrantType(g) for g in options["grant_types"]
                             or [GrantType.AUTHORIZATION_CODE]],
                scopes=list(options["scopes"] or DEFAULT_CLIENT_SCOPES),
                access_token_format=AccessTokenFormat(options["access_token_format"]),
                access_token_audience=options["access_token_audience"],
                refresh_token_policy=RefreshTokenPolicy(options["refresh_token_policy"]),
                post_logout_redirect_uris=list(options["post_logout_redirect_uris"]),
                backchannel_logout_uri=options["backchannel_logout_uri"],
                event_delivery_uri=options["event_delivery_uri"],
                dev_mode=settings.server.dev_mode,
                profile=PROFILES[options["profile"]] if options["profile"] else None,
                roles=list(options["roles"]),
                organizations=list(settings.organizations),
                token_endpoint_auth_method=options["token_endpoint_auth_method"],
                keys=keys,
                fetch_sector=sector_fetcher(settings.outbound),
            )
        except ConfigError as exc:
            session.close()
            engine.dispose()
            _fail("The client was not created:", exc.problems)
            return
        session.commit()
    engine.dispose()
    if options["as_json"]:
        click.echo(json.dumps({"client_id": created.client_id, "client_secret": created.client_secret}))
    else:
        click.echo(f"client_id:     {created.client_id}")
        if created.client_secret:
            click.echo(f"client_secret: {created.client_secret}   (shown once; stored hashed)")


def _key_options(options: dict[str, Any]) -> KeyMetadata:
    """The key and subject options; a JWK set file that is not JSON stops here."""
    jwks = None
    if options["jwks_file"] is not None:
        try:
            jwks = json.load(options["jwks_file"])
        except ValueError as exc:
            _fail("The client was not created:", [f"jwks_file: not JSON ({exc})"])
    return KeyMetadata(jwks=jwks, jwks_uri=options["jwks_uri"],
                       subject_type=options["subject_type"],
                       sector_identifier_uri=options["sector_identifier_uri"])


@main.group()
def logout() -> None:
    """Back-channel logout."""


@logout.command("deliver")
@click.pass_context
def logout_deliver(ctx: click.Context) -> None:
    """Deliver the logout tokens that are due: retries of failed deliveries, and tokens for
    sessions that expired since the last run. Run it every minute or so (cron, systemd timer)."""
    from idp.oidc.key_rotation import retention
    from idp.oidc.keys import load_keyring
    from idp.oidc.logout import Signer, deliver, end_expired_sessions
    from idp.storage.base import make_session_factory

    settings = settings_of(ctx)
    engine = _current_engine(settings)
    with make_session_factory(engine)() as session:
        keyring = load_keyring(session, settings.server.secret_key, retention=retention(settings))
        signer = Signer(settings.server.issuer, keyring)
        ended = end_expired_sessions(session, signer, secret_key=settings.server.secret_key)
        session.commit()
        delivered, failed = deliver(session, signer, limits=settings.outbound)
    engine.dispose()
    click.echo(f"expired sessions ended: {ended}; delivered: {delivered}; failed: {failed}")


@main.group("registration-tokens")
def registration_tokens() -> None:
    """Initial access tokens for dynamic client registration (RFC 7591)."""


@registration_tokens.command("create")
@click.option("--org", "organization", required=True, metavar="ORG",
              help="The organization whose clients the token may register.")
@click.option("--expires-in", default="7d", show_default=True, metavar="DURATION",
              help="How long the token lasts: 30m, 12h, 7d, 2w (at most 366 days).")
@click.option("--max-uses", type=int, default=None, metavar="N",
              help="How many clients it may register; no limit until it expires when not given.")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its limits as JSON.")
@click.pass_context
def registration_tokens_create(ctx: click.Context, organization: str, expires_in: str,
                               max_uses: int | None, as_json: bool) -> None:
    """Create an initial access token for one organization; the token is shown once."""
    from idp.oidc.registration import issue_initial_access_token, parse_duration
    from idp.storage.base import make_engine, make_session_factory
    from idp.storage.migrate import ensure_current

    settings = settings_of(ctx)
    try:
        lifetime = parse_duration(expires_in)
    except ValueError as exc:
        _fail("The token was not created:", [f"expires_in: {exc}"])
        return
    engine = make_engine(settings.database.url)
    try:
        ensure_current(engine)
        with make_session_factory(engine)() as session:
            issued = issue_initial_access_token(session, settings, organization,
                                                expires_in=lifetime, max_uses=max_uses,
                                                actor="cli")
            session.commit()
    except DatabaseNotReady as exc:
        _fail(exc.detail, [])
        return
    except ConfigError as exc:
        _fail("The token was not created:", exc.problems)
        return
    finally:
        engine.dispose()
    token = issued.token
    if as_json:
        click.echo(json.dumps({"token": issued.value, "organization": token.organization,
                               "expires_at": token.expires_at.isoformat(),
                               "max_uses": token.max_uses}))
    else:
        click.echo(f"initial access token: {issued.value}   (shown once; stored hashed)")
        click.echo(f"organization:         {token.organization}")
        click.echo(f"expires at:           {token.expires_at.isoformat()}")
        click.echo(f"uses:                 {token.max_uses or 'unlimited until it expires'}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Werkzeug's development server (dev mode only).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, dev: bool) -> None:
    """Serve the provider (gunicorn, workers from the config)."""
    from idp.serve import serve as run

    settings = settings_of(ctx)
    if dev and not settings.server.dev_mode:
        _fail("--dev needs server.dev_mode = true in the configuration.", [])
    try:
        run(settings, host, port, dev=dev)
    except DatabaseNotReady as exc:
        _fail(exc.detail, [])


# The command groups of their own modules register themselves on import.
from idp import (  # noqa: E402
    cli_admin,  # noqa: F401  (registers `idp clients rotate-secret`)
    cli_helpdesk,  # noqa: F401  (registers `idp identities`, `proposals`, `audit`)
    cli_keys,  # noqa: F401  (registers `idp keys` on main)
    cli_release,  # noqa: F401  (registers `idp clients release`)
)
