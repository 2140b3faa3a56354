"""Pairwise subjects (idp.identity.subjects): stable per sector, different across sectors and
server secrets, never the public sub; public clients see the public sub."""

from __future__ import annotations

from idp.identity.subjects import pairwise_key, sector_of_redirect_uris, subject_for
from idp.storage.clients import Client
from idp.storage.identities import Identity

SECRET = "unit-tests-secret-key-0123456789abcdef"
PERSON = Identity(sub="public-sub-of-a-person")


def pairwise(sector: str) -> Client:
    return Client(subject_type="pairwise", sector_identifier=sector)


def test_one_sector_one_subject_and_never_the_public_one() -> None:
    first = subject_for(pairwise("lib.tpu.example"), PERSON, SECRET)
    assert first == subject_for(pairwise("lib.tpu.example"), PERSON, SECRET)
    assert first != PERSON.sub and len(first) == 43
    assert first != subject_for(pairwise("sports.tsu.example"), PERSON, SECRET)
    assert first != subject_for(pairwise("lib.tpu.example"), Identity(sub="another"), SECRET)
    assert first != subject_for(pairwise("lib.tpu.example"), PERSON, SECRET + "x")


def test_public_clients_see_the_public_sub() -> None:
    assert subject_for(Client(subject_type="public"), PERSON, SECRET) == PERSON.sub
    assert subject_for(None, PERSON, SECRET) == PERSON.sub


def test_the_key_is_derived_not_the_secret() -> None:
    assert pairwise_key(SECRET) != SECRET.encode() and len(pairwise_key(SECRET)) == 32


def test_the_sector_of_redirect_uris() -> None:
    assert sector_of_redirect_uris(["https://Lib.tpu.example/a", "https://lib.tpu.example/b"]) \
        == "lib.tpu.example"
    assert sector_of_redirect_uris(["https://a.example/cb", "https://b.example/cb"]) is None
    assert sector_of_redirect_uris([]) is None
