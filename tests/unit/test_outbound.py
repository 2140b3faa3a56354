"""The outbound address filter and limits (idp.oidc.outbound) without a remote server: which
addresses count as public, refusals that never connect and say the same thing, and the
``[outbound]`` settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.oidc.outbound import OutboundError, call, refused_address
from idp.settings.load import load_settings
from idp.settings.model import OutboundSettings
from tests.unit.test_settings import MINIMAL, write


@pytest.mark.parametrize("address", [
    "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.8.8.8", "10.1.2.3", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1",
                                     "2001:4860:4860::8888", "2a00:1450:4010::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://localhost:9/x", "http://127.0.0.1:9/x", "http://[::1]:9/x",
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]:9/",
    "http://10.0.0.1/", "https://192.168.0.1/jwks", "ftp://example.org/x", "http:///nohost",
])
def test_refused_urls_answer_one_public_message(url: str) -> None:
    with pytest.raises(OutboundError) as refused:
        call("GET", url, OutboundSettings(timeout_s=1))
    assert refused.value.public == OutboundError.public
    assert refused.value.detail  # the reason, for the log only


def test_outbound_settings_default_to_refusing_private_addresses_outside_dev_mode(
        tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert settings.outbound == OutboundSettings(timeout_s=5, max_bytes=1024 * 1024,
                                                 allow_private=False)
    dev = load_settings(write(tmp_path, MINIMAL.replace("[server]", "[server]\ndev_mode = true")),
                        {})
    assert dev.outbound.allow_private
    overridden = load_settings(write(tmp_path, MINIMAL), {"IDP__OUTBOUND__ALLOW_PRIVATE": "true"})
    assert overridden.outbound.allow_private


def test_outbound_settings_are_validated_with_every_problem_listed(tmp_path: Path) -> None:
    text = MINIMAL + "[outbound]\ntimeout_s = 0\nmax_bytes = 10\nallow_private = \"yes\"\n" \
                     "failure_cache_s = -1\nmin_refetch_s = 7200\nproxy = \"x\"\n"
    with pytest.raises(ConfigError) as failed:
        load_settings(write(tmp_path, text), {})
    problems = [p for p in failed.value.problems if p.startswith("outbound.")]
    assert [p.split(":")[0] for p in problems] == [
        "outbound.timeout_s", "outbound.max_bytes", "outbound.allow_private",
        "outbound.failure_cache_s", "outbound.min_refetch_s", "outbound.proxy"]
