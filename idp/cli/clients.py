"""``idp clients create`` and ``idp clients rotate-secret``: register a relying party (the
secret is shown once) and give it a new secret, the previous one still accepted during an
overlap window (default ``[admin] secret_rotation_overlap_s``), the same rotation as the admin
UI's (``idp.admin.clients.rotate_secret``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from idp.cli.shared import clients, current_engine, echo_json, fail, session_on, settings_of
from idp.errors import ConfigError, Conflict
from idp.oidc.key_metadata import KeyMetadata
from idp.oidc.profiles import PROFILES
from idp.oidc.registration import parse_duration
from idp.settings import AccessTokenFormat, GrantType, PkcePolicy, RefreshTokenPolicy
from idp.settings.model import DEFAULT_CLIENT_SCOPES

# Printed when a client is set to EdDSA: it is kept for the relying parties that can use it.
EDDSA_WARNING = ("Warning: many relying parties cannot verify EdDSA ID tokens (Apache "
                 "mod_auth_openidc's JOSE library among them: 'cjose_jws_import failed'); "
                 "use RS256 or ES256 unless this one is known to. See docs/relying-parties.md.")


@clients.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Repeatable; needed by the authorization_code grant.")
@click.option("--public", is_flag=True, help="A client that cannot keep a secret (PKCE required).")
@click.option("--pkce", type=click.Choice([p.value for p in PkcePolicy]), default="required",
              show_default=True)
@click.option("--trusted", is_flag=True, help="First-party client: no consent screen.")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256", "EdDSA"]), default="RS256",
              show_default=True, help="Signs its ID tokens and its JWT access tokens. RS256 is "
                                      "the safest choice; many relying parties cannot verify "
                                      "EdDSA (Apache mod_auth_openidc among them).")
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
    from idp.admin.registry import create_client
    from idp.oidc.key_metadata import sector_fetcher

    settings = settings_of(ctx)
    keys = _key_options(options)
    engine = current_engine(settings)
    with session_on(engine) as session:
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
            fail("The client was not created:", exc.problems)
        session.commit()
    engine.dispose()
    if options["id_token_alg"] == "EdDSA":
        click.echo(EDDSA_WARNING, err=True)
    if options["as_json"]:
        echo_json({"client_id": created.client_id, "client_secret": created.client_secret})
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
            fail("The client was not created:", [f"jwks_file: not JSON ({exc})"])
    return KeyMetadata(jwks=jwks, jwks_uri=options["jwks_uri"],
                       subject_type=options["subject_type"],
                       sector_identifier_uri=options["sector_identifier_uri"])


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--overlap", default=None, metavar="DURATION",
              help="How long the previous secret keeps working, e.g. 7d, 12h, or 0 to stop it "
                   "at once. Default: [admin] secret_rotation_overlap_s.")
@click.option("--json", "as_json", is_flag=True, help="Print the new secret as JSON.")
@click.pass_context
def clients_rotate_secret(ctx: click.Context, client_id: str, overlap: str | None,
                          as_json: bool) -> None:
    """Give CLIENT_ID a new secret (shown once); the old one works until the overlap ends."""
    from idp.admin.clients import (
        Actor,
        StaticClientChange,
        find_managed_client,
        record_refusal,
        rotate_secret,
    )

    settings = settings_of(ctx)
    window = timedelta(seconds=settings.admin.secret_rotation_overlap_s)
    if overlap is not None:
        try:
            window = timedelta(0) if overlap.strip() == "0" else parse_duration(overlap)
        except ValueError as exc:
            fail("The secret was not rotated:", [f"overlap: {exc}"])
    engine = current_engine(settings)
    try:
        with session_on(engine) as db:
            client = find_managed_client(db, client_id)
            if client is None:
                fail("The secret was not rotated:", [f"client_id: no client {client_id!r}"])
            try:
                rotated = rotate_secret(db, client, window, "cli")
            except StaticClientChange as refused:
                db.rollback()
                record_refusal(db, client, refused, Actor("cli"))
                db.commit()
                fail("The secret was not rotated:", [f"client_id: {refused.public}"])
            except Conflict as exc:
                fail("The secret was not rotated:", [f"client_id: {exc.public}"])
            db.commit()
    finally:
        engine.dispose()
    expires = rotated.previous_expires_at.isoformat() if rotated.previous_expires_at else None
    if as_json:
        echo_json({"client_id": client_id, "client_secret": rotated.secret,
                   "previous_secret_expires_at": expires})
        return
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {rotated.secret}   (shown once; stored hashed)")
    click.echo(f"previous secret works until: {expires or 'no longer (stopped now)'}")
