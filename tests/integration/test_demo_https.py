"""`make demo HTTPS=1`: the provider over https with a certificate from a local CA the demo
makes, which relying parties (the sample one, a real Moodle) are told to trust."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from werkzeug.serving import make_server

from demo.__main__ import HTTPS_PROVIDER_PORT, RP_CLIENT, Options, options
from demo.sample_rp import create_rp
from demo.slapd import free_ports
from demo.stack import ProviderStack

pytestmark = pytest.mark.slapd


def test_https_and_its_ports_are_chosen_on_the_command_line_and_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEMO_PORT", "DEMO_RP_PORT", "DEMO_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert options([]) == Options(https=False, host="127.0.0.1", port=8080, rp_port=8081)
    assert options(["--https"]).port == HTTPS_PROVIDER_PORT
    monkeypatch.setenv("DEMO_PORT", "9443")
    monkeypatch.setenv("DEMO_RP_PORT", "9081")
    chosen = options(["--https"])
    assert (chosen.port, chosen.rp_port) == (9443, 9081)
    assert chosen.redirect_uri == "http://127.0.0.1:9081/callback"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProviderStack, str]]:
    """The provider as `make demo HTTPS=1` starts it, and the sample relying party."""
    port, rp_port = free_ports(2)
    chosen = Options(https=True, host="127.0.0.1", port=port, rp_port=rp_port)
    stack = ProviderStack(tmp_path_factory.mktemp("demo"), port=chosen.port, https=True,
                          workers=1, clients={RP_CLIENT["client_id"]: {
                              "name": "Sample relying party",
                              "redirect_uris": [chosen.redirect_uri],
                              "client_secret": RP_CLIENT["client_secret"]}})
    with stack:
        assert stack.ca_file is not None
        rp = create_rp(stack.issuer, RP_CLIENT["client_id"], RP_CLIENT["client_secret"],
                       chosen.redirect_uri, ca_file=str(stack.ca_file))
        server = make_server("127.0.0.1", chosen.rp_port, rp, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield stack, f"http://127.0.0.1:{chosen.rp_port}"
        finally:
            server.shutdown()
            thread.join(10)


def https_client(ca_file: Path | bool) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    http.verify = str(ca_file) if isinstance(ca_file, Path) else ca_file
    return http


def test_discovery_and_keys_are_served_over_https_verified_against_the_demo_ca(
        demo: tuple[ProviderStack, str]) -> None:
    stack, _ = demo
    assert stack.issuer.startswith("https://") and stack.ca_file is not None
    http = https_client(stack.ca_file)
    meta = http.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == stack.issuer
    assert all(meta[k].startswith(f"{stack.issuer}/") for k in meta if k.endswith("_endpoint"))
    keys = http.get(meta["jwks_uri"], timeout=10).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES256"}
    # Nobody trusts it by default: the system's CAs refuse the certificate.
    with pytest.raises(requests.exceptions.SSLError):
        https_client(True).get(f"{stack.issuer}/jwks", timeout=10)


def test_the_ca_is_a_ca_and_the_server_certificate_names_the_issuer_host(
        demo: tuple[ProviderStack, str]) -> None:
    stack, _ = demo
    assert stack.ca_file is not None
    ca = x509.load_pem_x509_certificate(stack.ca_file.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    chain = x509.load_pem_x509_certificates((stack.ca_file.parent / "provider.pem").read_bytes())
    server = chain[0]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert server.issuer == ca.subject and chain[1] == ca
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_the_sample_relying_party_trusts_the_demo_ca(demo: tuple[ProviderStack, str]) -> None:
    """Its "Log in" reads discovery over https (checked against the CA) and sends the browser
    to the https authorization endpoint."""
    stack, rp = demo
    answer = https_client(False).get(f"{rp}/login", allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    assert answer.headers["Location"].startswith(f"{stack.issuer}/authorize?")


def test_a_second_start_keeps_the_ca_and_issues_a_new_server_certificate(tmp_path: Path) -> None:
    from demo.tls import write_local_ca

    first = write_local_ca(tmp_path, ["127.0.0.1"])
    ca, cert = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    second = write_local_ca(tmp_path, ["127.0.0.1", "moodle-host.example"])
    assert second.ca_file.read_bytes() == ca  # a Moodle told to trust it goes on trusting it
    assert second.cert_file.read_bytes() != cert
    server = x509.load_pem_x509_certificates(second.cert_file.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["moodle-host.example"]
