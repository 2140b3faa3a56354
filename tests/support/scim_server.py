"""A real SCIM 2.0 server for the tests: ``demo.scim_server`` (``scim2-server``, in-memory, in
its own process on 127.0.0.1) with the tests' bearer token, and a client to read back what it
holds.

Started with ``--dynamic-tenants``: each test provisions under a tenant of its own
(``/<tenant>/v2``), so tests sharing one server never see each other's Users. ``stop`` and
``start`` again keep the port (the server forgets its Users, as an in-memory one does).
"""

from __future__ import annotations

import uuid
from typing import Any

from demo import scim_server
from demo.scim_server import SCIM_JSON

TOKEN = "scim-test-token-0123456789"


class ScimServer(scim_server.ScimServer):
    def __init__(self) -> None:
        super().__init__(TOKEN, dynamic_tenants=True)

    def start(self) -> ScimServer:
        super().start()
        return self

    def tenant(self) -> str:
        """A fresh SCIM base URL, empty until something is provisioned there."""
        return f"http://127.0.0.1:{self.port}/t{uuid.uuid4().hex[:12]}/v2"

    def create(self, base: str, user: dict[str, Any]) -> dict[str, Any]:
        """A User made by hand, as a librarian (or another system) would."""
        answer = self.http.post(f"{base}/Users", json=user, timeout=5,
                                headers={"Content-Type": SCIM_JSON})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())
