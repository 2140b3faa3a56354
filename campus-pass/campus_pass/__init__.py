"""campus-pass: verify a Campus ID sports or culture pass offline, from a cached key set and a
cached revocation list, as a turnstile or a facility's tablet does.

The library API is ``verify`` (``campus_pass.verify``), which returns a ``Result`` with a
``Verdict``; the command is ``campus-pass`` (``campus_pass.cli``)."""

from campus_pass.caches import KeySet, Revocations, load_keys, load_revocations
from campus_pass.verify import Result, Verdict, verify

__all__ = ["KeySet", "Result", "Revocations", "Verdict", "load_keys", "load_revocations", "verify"]
