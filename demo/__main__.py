"""`make demo`: three demo university directories, the provider at http://127.0.0.1:8080, a
sample relying party at http://127.0.0.1:8081, a delivery worker (`idp worker`) and what it
delivers to: the webhook receiver at http://127.0.0.1:8090, the demo library (a real SCIM
server) at http://127.0.0.1:8091/v2 and a stand-in Moodle at http://127.0.0.1:8092. Ctrl-C
stops everything it started.

`make demo HTTPS=1` (``--https``) serves the provider over https at https://127.0.0.1:8443 with a
certificate from a local CA made in var/demo/tls/ (ca.pem is what a real Moodle must trust;
docs/moodle.md). ``DEMO_PORT`` sets the provider's port, ``DEMO_RP_PORT`` the sample relying
party's, ``DEMO_HOST`` the issuer's host name or address (127.0.0.1; another one is served on
every interface and named in the certificate)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import make_server

from demo.access import COURSE_NAME, GYM_TERMS, MOODLE_COURSE_ID
from demo.people import roster
from demo.sample_rp import create_rp
from demo.stack import ProviderStack

PROVIDER_PORT = 8080
HTTPS_PROVIDER_PORT = 8443
RP_PORT = 8081
WEBHOOK_PORT = 8090
SCIM_PORT = 8091
MOODLE_PORT = 8092
LDAP_PORTS = {"tpu": 3891, "tsu": 3892, "tusur": 3893}
WORKDIR = Path("var/demo")
RP_CLIENT = {"client_id": "sample-rp", "client_secret": "sample-rp-demo-secret"}


# Who may use the admin UI and the helpdesk console in the demo (docs/admin.md, docs/helpdesk.md).
STAFF = {"consortium_admin": ["tpu:demo"], "org_admin": ["tsu:demo"], "helpdesk": ["tusur:demo"]}


@dataclass(frozen=True)
class Options:
    https: bool
    host: str
    port: int
    rp_port: int

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.rp_port}/callback"


def options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--https", action="store_true",
                        help="serve the provider over https with a local CA's certificate")
    https = parser.parse_args(argv).https
    default_port = HTTPS_PROVIDER_PORT if https else PROVIDER_PORT
    try:
        port = int(os.environ.get("DEMO_PORT") or default_port)
        rp_port = int(os.environ.get("DEMO_RP_PORT") or RP_PORT)
    except ValueError:
        parser.error("DEMO_PORT and DEMO_RP_PORT must be port numbers")
    return Options(https, os.environ.get("DEMO_HOST") or "127.0.0.1", port, rp_port)


def banner(stack: ProviderStack, rp_port: int = RP_PORT) -> str:
    bin_dir = Path(os.path.relpath(Path(sys.executable).parent))
    idp = f"{bin_dir / 'idp'} --config {stack.config_path}"
    turnstile = f"{bin_dir / 'campus-pass'}"
    cache = stack.workdir / "turnstile"
    lines = [
        "",
        "Campus ID demo is running:",
        f"  provider (issuer)      {stack.issuer}",
        f"  sample relying party   http://127.0.0.1:{rp_port}   <- open this and log in",
        "  directories            " + ", ".join(
            f"{org} {srv.uri}" for org, srv in stack.directories.items()),
        f"  admin UI               {stack.issuer}/admin   <- staff: tpu demo/demo (consortium admin), "
        "tsu demo/demo (admin of tsu)",
        f"  provider log           {stack.workdir / 'provider.log'}",
        f"  delivery worker        idp worker, log {stack.workdir / 'worker.log'}",
        f"  webhook receiver       http://127.0.0.1:{WEBHOOK_PORT}/   <- what it received "
        f"(also {stack.workdir / 'webhooks.jsonl'})",
        f"  demo library (SCIM)    http://127.0.0.1:{SCIM_PORT}/v2   <- scim2-server; its Users:",
        f"      curl -H \"Authorization: Bearer $(cat {stack.workdir / 'scim.token'})\" "
        f"http://127.0.0.1:{SCIM_PORT}/v2/Users",
        f"  stand-in Moodle        http://127.0.0.1:{MOODLE_PORT}/demo/users   <- its users, "
        f"cohorts and enrolments (course {MOODLE_COURSE_ID} is {COURSE_NAME})",
        "",
        "Access: students and staff get the library card and the gym pass, students also the "
        f"course {COURSE_NAME}.",
        "  Log in and open /account: the card (number, barcode, QR; printable at "
        "/account/card.svg) and the gym pass",
        "  (a QR code renewed while the page is open). The card goes to the demo library (its "
        "number as employeeNumber),",
        "  the course to the stand-in Moodle (account, cohort, enrolment); the webhook receiver "
        "prints both below.",
        "Check a pass as a turnstile would, offline from cached keys and revocations:",
        # urllib (campus-pass) trusts the demo's CA through OpenSSL's SSL_CERT_FILE.
        f"  {f'SSL_CERT_FILE={stack.ca_file} ' if stack.ca_file else ''}{turnstile} refresh "
        f"--issuer {stack.issuer} --cache {cache}",
        f"  open {stack.issuer}/account/pass (logged in), copy a pass's \"text\", then:",
        f"  {turnstile} verify 'CP1:...' --cache {cache} --facility {GYM_TERMS}",
        "Try:",
        f"  {idp} access explain demo@tsu.ru",
        f"  {idp} deliveries list --json",
        f"  {idp} directory sync --json     <- accounts for everybody, before they log in",
    ]
    if stack.ca_file is not None:
        lines += ["", "https: the provider's certificate is issued by a local CA made for this demo:",
                  f"  {stack.ca_file}   <- the CA certificate a relying party must trust "
                  "(a real Moodle: docs/moodle.md)",
                  f"  curl --cacert {stack.ca_file} {stack.issuer}/.well-known/openid-configuration"]
    lines += ["", "Every organization has username demo, password demo. Other people:"]
    for row in roster():
        if row["username"] != "demo":
            lines.append(f"  {row['organization']:6} {row['username']:20} {row['password']:28} "
                         f"{row['name']} ({row['affiliations']})")
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    chosen = options(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    # SIGINT explicitly too: a shell that starts us in the background sets it to "ignore".
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    clients = {RP_CLIENT["client_id"]: {
        "name": "Sample relying party", "redirect_uris": [chosen.redirect_uri],
        "client_secret": RP_CLIENT["client_secret"],
    }}
    stack = ProviderStack(WORKDIR, port=chosen.port, https=chosen.https, host=chosen.host,
                          ldap_ports=LDAP_PORTS, clients=clients,
                          extra_config={"roles": STAFF}, access=True, webhook_port=WEBHOOK_PORT,
                          scim_port=SCIM_PORT, moodle_port=MOODLE_PORT,
                          echo=lambda line: print(line, flush=True))
    try:
        stack.start()
        rp = create_rp(stack.issuer, RP_CLIENT["client_id"], RP_CLIENT["client_secret"],
                       chosen.redirect_uri, ca_file=str(stack.ca_file) if stack.ca_file else None)
        server = make_server("127.0.0.1", chosen.rp_port, rp, threaded=True)
        print(banner(stack, chosen.rp_port), flush=True)
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
