"""Admin pages for relying parties: list, create, edit, disable or enable, delete, rotate the
secret, audit trail. Every change is a CSRF-protected POST (``idp.web.csrf``), audited with
the staff member as actor and committed before the response. A secret is shown once, on the
page that answers its creation, and never stored in clear."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import abort, redirect, render_template, request, url_for

from idp import context
from idp.admin import clients as service
from idp.oidc.client_metadata import AUTH_METHODS, ClientMetadata
from idp.oidc.key_metadata import sector_fetcher
from idp.oidc.profiles import PROFILES
from idp.storage.clients import Client
from idp.web.admin import forms
from idp.web.admin.blueprint import bp
from idp.web.admin.staff import forbidden, staff, staff_required
from idp.web.i18n import translate


@bp.get("/")
@staff_required
def index() -> Any:
    return redirect(url_for("admin.client_list"))


@bp.get("/clients")
@staff_required
def client_list() -> Any:
    who = staff()
    settings = context.settings()
    orgs = who.roles.organizations(settings.organizations)
    chosen = request.args.get("org", "")
    if chosen and not who.roles.can_manage(chosen):
        return forbidden(who, "client list of another organization", chosen)
    if chosen:
        scope: list[str] | None = [chosen]
    else:
        scope = None if who.roles.consortium_admin else orgs
    clients = service.clients_of(context.db(), scope)
    return render_template("admin/clients.html", clients=clients, organizations=orgs,
                           chosen=chosen, staff=who)


@bp.route("/clients/new", methods=["GET", "POST"])
@staff_required
def client_new() -> Any:
    who = staff()
    orgs = who.roles.organizations(context.settings().organizations)
    if request.method == "GET":
        values = forms.new_values()
        values["organization"] = request.args.get("org", orgs[0] if orgs else "")
        return _form_page(values, orgs)
    values = forms.form_values(request.form)
    if values["organization"] not in orgs:
        return forbidden(who, "create a client of another organization", values["organization"])
    metadata, problems = _parse(values)
    if metadata is None:
        return _form_page(values, orgs, problems), 400
    db = context.db()
    client, secret = service.create_client(db, values["organization"], metadata, who.actor)
    db.commit()
    return render_template("admin/secret.html", client=client, secret=secret, created=True)


@bp.get("/clients/<client_id>")
@staff_required
def client_show(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    return _form_page(forms.client_values(client), [], client=client)


@bp.post("/clients/<client_id>")
@staff_required
def client_update(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    with _static_refused(client):
        service.require_editable(client, "edit")  # before the form: its problems are moot
    values = forms.form_values(request.form)
    values["organization"] = client.organization or ""
    metadata, problems = _parse(values, keep=client.registered_metadata)
    if metadata is None:
        return _form_page(values, [], problems, client=client), 400
    db = context.db()
    with _static_refused(client):
        service.update_client(db, client, metadata, staff().actor)
    db.commit()
    return redirect(url_for("admin.client_show", client_id=client.client_id, saved=1))


@bp.post("/clients/<client_id>/disable")
@staff_required
def client_disable(client_id: str) -> Any:
    return _change(client_id, lambda db, client, who: service.disable_client(db, client, who.actor))


@bp.post("/clients/<client_id>/enable")
@staff_required
def client_enable(client_id: str) -> Any:
    return _change(client_id, lambda db, client, who: service.enable_client(db, client, who.actor))


@bp.post("/clients/<client_id>/delete")
@staff_required
def client_delete(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    if request.form.get("confirm") != "on":  # the page asks to tick "yes, delete it"
        return _form_page(forms.client_values(client), [], [translate("admin.delete_unconfirmed")],
                          client=client), 400
    db = context.db()
    with _static_refused(client):
        service.remove_client(db, client, staff().actor)
    db.commit()
    return redirect(url_for("admin.client_list", deleted=client.name))


@bp.post("/clients/<client_id>/rotate")
@staff_required
def client_rotate(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    db = context.db()
    overlap = timedelta(seconds=context.settings().admin.secret_rotation_overlap_s)
    with _static_refused(client):
        rotated = service.rotate_secret(db, client, overlap, staff().actor)
    db.commit()
    return render_template("admin/secret.html", client=client, secret=rotated.secret,
                           created=False, previous_expires_at=rotated.previous_expires_at)


@bp.get("/clients/<client_id>/audit")
@staff_required
def client_audit(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    return render_template("admin/audit.html", client=client,
                           events=service.trail(context.db(), client))


def managed_client(client_id: str) -> Client | tuple[str, int]:
    """The client, when this staff member may manage it: 404 unknown, 403 (audited) another
    organization's."""
    client = service.find_managed_client(context.db(), client_id)
    if client is None:
        abort(404)
    who = staff()
    if not who.roles.can_manage(client.organization):
        return forbidden(who, f"client {client.client_id} of another organization",
                         client.organization)
    return client


def _change(client_id: str, action: Any) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    db = context.db()
    with _static_refused(client):
        action(db, client, staff())  # a Conflict becomes the error page, nothing committed
    db.commit()
    return redirect(url_for("admin.client_show", client_id=client.client_id))


@contextmanager
def _static_refused(client: Client) -> Iterator[None]:
    """A change to a client of the configuration file: nothing of it kept, the refusal
    audited and committed on its own, then the 409 error page."""
    try:
        yield
    except service.StaticClientChange as refused:
        db = context.db()
        db.rollback()
        service.record_refusal(db, client, refused, staff().actor, request.path)
        db.commit()
        raise


def _parse(values: dict[str, Any], keep: dict[str, Any] | None = None,
           ) -> tuple[ClientMetadata | None, list[str]]:
    """The form checked as a registration, under the ``[outbound]`` limits: a kept
    sector_identifier_uri is fetched again, with no transaction open meanwhile (the request
    has only read so far)."""
    settings = context.settings()
    context.end_reads()
    return forms.parse(values, dev_mode=settings.server.dev_mode, keep=keep,
                       fetch_sector=sector_fetcher(settings.outbound))


def _form_page(values: dict[str, Any], organizations: list[str], problems: list[str] | None = None,
               *, client: Client | None = None) -> Any:
    return render_template("admin/client_form.html", values=values, organizations=organizations,
                           problems=problems or [], client=client, profiles=list(PROFILES),
                           auth_methods=AUTH_METHODS, scopes=forms.SCOPES,
                           saved=bool(request.args.get("saved")))
