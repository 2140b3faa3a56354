"""`make demo`: three demo university directories, the provider at http://127.0.0.1:8080, a
sample relying party at http://127.0.0.1:8081, a delivery worker (`idp worker`) and the webhook
receiver it delivers library card grants to, at http://127.0.0.1:8090. Ctrl-C stops everything
it started."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from werkzeug.serving import make_server

from demo.people import roster
from demo.sample_rp import create_rp
from demo.stack import ProviderStack

PROVIDER_PORT = 8080
RP_PORT = 8081
WEBHOOK_PORT = 8090
LDAP_PORTS = {"tpu": 3891, "tsu": 3892, "tusur": 3893}
WORKDIR = Path("var/demo")
RP_CLIENT = {
    "client_id": "sample-rp",
    "client_secret": "sample-rp-demo-secret",
    "redirect_uri": f"http://127.0.0.1:{RP_PORT}/callback",
}


# Who may use the admin UI in the demo (see docs/admin.md).
STAFF = {"consortium_admin": ["tpu:demo"], "org_admin": ["tsu:demo"]}


def banner(stack: ProviderStack) -> str:
    idp = f"{os.path.relpath(Path(sys.executable).parent / 'idp')} --config {stack.config_path}"
    lines = [
        "",
        "Campus ID demo is running:",
        f"  provider (issuer)      {stack.issuer}",
        f"  sample relying party   http://127.0.0.1:{RP_PORT}   <- open this and log in",
        "  directories            " + ", ".join(
            f"{org} {srv.uri}" for org, srv in stack.directories.items()),
        f"  admin UI               {stack.issuer}/admin   <- staff: tpu demo/demo (consortium admin), "
        "tsu demo/demo (admin of tsu)",
        f"  provider log           {stack.workdir / 'provider.log'}",
        f"  delivery worker        idp worker, log {stack.workdir / 'worker.log'}",
        f"  webhook receiver       http://127.0.0.1:{WEBHOOK_PORT}/   <- what it received "
        f"(also {stack.workdir / 'webhooks.jsonl'})",
        "",
        "Access: students and staff get the library card (delivered to the webhook receiver, "
        "printed below) and the gym pass; see them on /account. Try:",
        f"  {idp} access explain demo@tsu.ru",
        f"  {idp} deliveries list --json",
        f"  {idp} directory sync --json     <- accounts for everybody, before they log in",
        "",
        "Every organization has username demo, password demo. Other people:",
    ]
    for row in roster():
        if row["username"] != "demo":
            lines.append(f"  {row['organization']:6} {row['username']:20} {row['password']:28} "
                         f"{row['name']} ({row['affiliations']})")
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    # SIGINT explicitly too: a shell that starts us in the background sets it to "ignore".
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    clients = {RP_CLIENT["client_id"]: {
        "name": "Sample relying party", "redirect_uris": [RP_CLIENT["redirect_uri"]],
        "client_secret": RP_CLIENT["client_secret"],
    }}
    stack = ProviderStack(WORKDIR, port=PROVIDER_PORT, ldap_ports=LDAP_PORTS, clients=clients,
                          extra_config={"roles": STAFF}, access=True, webhook_port=WEBHOOK_PORT,
                          echo=lambda line: print(line, flush=True))
    try:
        stack.start()
        rp = create_rp(stack.issuer, RP_CLIENT["client_id"], RP_CLIENT["client_secret"],
                       RP_CLIENT["redirect_uri"])
        server = make_server("127.0.0.1", RP_PORT, rp, threaded=True)
        print(banner(stack), flush=True)
        server.serve_forever()  # returns (Werkzeug swallows KeyboardInterrupt) on Ctrl-C
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError) as exc:
        print(f"The demo could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping the demo...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
