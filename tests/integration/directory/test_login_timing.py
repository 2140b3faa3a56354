"""An unknown username costs what a wrong password costs: the directory binds a decoy DN with
the typed password, then pads to the duration of a recent real bind. (The figures themselves:
``python -m bench.login_timing``; no test asserts on wall-clock time.)"""

from __future__ import annotations

from collections.abc import Callable

import ldap.ldapobject
import pytest

from demo.people import TPU, TUSUR, DemoOrganization
from demo.slapd import SlapdServer
from idp.directory import timing
from idp.directory.base import AuthStatus
from idp.directory.ldap import DECOY_RDN, LdapDirectory

pytestmark = pytest.mark.slapd

MakeDirectory = Callable[..., LdapDirectory]


@pytest.fixture
def binds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every simple bind any connection makes: (DN, password)."""
    seen: list[tuple[str, str]] = []
    original = ldap.ldapobject.SimpleLDAPObject.simple_bind_s

    def spy(self: ldap.ldapobject.SimpleLDAPObject, who: str = "", cred: str = "",
            *args: object, **kwargs: object) -> object:
        seen.append((who, cred))
        return original(self, who, cred, *args, **kwargs)

    monkeypatch.setattr(ldap.ldapobject.SimpleLDAPObject, "simple_bind_s", spy)
    return seen


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    monkeypatch.setattr(timing.time, "sleep", asked.append)
    return asked


@pytest.mark.parametrize("org", [TPU, TUSUR], ids=["openldap", "active-directory-like"])
def test_an_unknown_username_binds_a_decoy_and_waits_like_a_real_bind(
        org: DemoOrganization, tpu_server: SlapdServer, tusur_server: SlapdServer,
        make_directory: MakeDirectory, binds: list[tuple[str, str]], sleeps: list[float]) -> None:
    server = tpu_server if org is TPU else tusur_server
    directory = make_directory(org, [server.uri])
    assert directory.authenticate("demo", "wrong").status is AuthStatus.INVALID_CREDENTIALS
    real_bind = directory.bind_timer.draw()
    assert real_bind > 0 and sleeps == []  # a real bind is measured, never padded

    directory.bind_timer = timing.BindTimer()
    directory.bind_timer.observe(0.5)  # as if the directory's hash took half a second
    binds.clear()
    assert directory.authenticate("nobody-here", "guess").status is AuthStatus.INVALID_CREDENTIALS
    assert binds[-1] == (f"{DECOY_RDN},{org.base_dn}", "guess")
    assert len(sleeps) == 1 and 0.4 < sleeps[0] < 0.5


def test_the_pad_is_what_is_left_of_a_recent_real_bind(sleeps: list[float]) -> None:
    timer = timing.BindTimer()
    timer.pad(0.001)
    assert sleeps == []  # nothing measured yet: nothing to match
    for _ in range(timing.SAMPLES + 10):
        timer.observe(0.02)
    timer.pad(0.005)
    timer.pad(0.05)  # already slower than a real bind: no wait
    assert sleeps == [pytest.approx(0.015)]
