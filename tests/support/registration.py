"""Dynamic client registration as a test sees it: initial access tokens made the way the CLI
makes them, and registration requests sent over HTTP like any relying party would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from idp.oidc.registration import issue_initial_access_token
from idp.storage.clients import Client


def initial_token(app: Flask, organization: str = "tpu", *, days: int = 7,
                  max_uses: int | None = None) -> str:
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        issued = issue_initial_access_token(db, services.settings, organization,
                                            expires_in=timedelta(days=days), max_uses=max_uses,
                                            actor="test")
        db.commit()
        return issued.value


def register(browser: FlaskClient, token: str | None, metadata: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return browser.post("/register", json=metadata, headers=headers)


def manage(browser: FlaskClient, method: str, uri: str, token: str,
           metadata: Any = None) -> TestResponse:
    """RFC 7592: GET, PUT or DELETE at the registration client URI."""
    path = uri.removeprefix("https://id.campus.test")
    return browser.open(path, method=method, json=metadata,
                        headers={"Authorization": f"Bearer {token}"})


def registered_clients(app: Flask) -> int:
    with app.extensions["campus_id"].sessions() as db:
        stmt = select(func.count()).select_from(Client).where(Client.source == "dcr")
        return int(db.scalar(stmt) or 0)


def valid_metadata(**changes: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "client_name": "Library portal",
        "redirect_uris": ["https://library.tpu.example/callback"],
    }
    metadata.update(changes)
    return {k: v for k, v in metadata.items() if v is not None}
