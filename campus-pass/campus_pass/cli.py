"""The ``campus-pass`` command: ``verify`` a scanned pass offline from cached files, and
``refresh`` those files from the issuer when online.

Exit status of ``verify``: 0 valid, 10 expired, 11 revoked, 12 forged, 13 wrong issuer,
14 not for this facility; 2 a usage error or a cache file that cannot be used. ``refresh``:
0 done, 3 not refreshed (the old files stay)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from campus_pass.caches import CacheError, load_keys, load_revocations
from campus_pass.refresh import JWKS_FILE, REVOKED_FILE, RefreshError, refresh
from campus_pass.verify import Result, Verdict, verify

USAGE_ERROR, REFRESH_FAILED = 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campus-pass", description="Verify Campus ID sports and culture passes offline.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify a scanned pass offline")
    check.add_argument("text", help="the text the QR code holds ('-': read it from standard input)")
    check.add_argument("--cache", help=f"a folder holding {JWKS_FILE} and {REVOKED_FILE}")
    check.add_argument("--jwks", help="the cached key set (default: CACHE/jwks.json)")
    check.add_argument("--revoked", help="the cached revocation list (default: CACHE/revoked.json)")
    check.add_argument("--issuer", default="", help="the expected issuer (default: the list's)")
    check.add_argument("--facility", default="", help="the entitlement this place admits")
    check.add_argument("--leeway", type=int, default=30, help="clock leeway in seconds (30)")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    update = commands.add_parser("refresh", help="fetch the key set and revocation list")
    update.add_argument("--issuer", required=True, help="the issuer, e.g. https://id.example.edu")
    update.add_argument("--cache", required=True, help="the folder to keep them in")
    update.add_argument("--timeout", type=float, default=10.0, help="total deadline in s (10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "refresh":
        try:
            refresh(args.issuer, args.cache, args.timeout)
        except (RefreshError, OSError) as exc:
            print(f"campus-pass: not refreshed: {exc}", file=sys.stderr)
            return REFRESH_FAILED
        print(f"refreshed {args.cache} from {args.issuer.rstrip('/')}")
        return 0
    return _verify(args)


def _verify(args: argparse.Namespace) -> int:
    jwks = args.jwks or (str(Path(args.cache) / JWKS_FILE) if args.cache else None)
    revoked = args.revoked or (str(Path(args.cache) / REVOKED_FILE) if args.cache else None)
    if jwks is None or revoked is None:
        print("campus-pass: give --cache, or both --jwks and --revoked", file=sys.stderr)
        return USAGE_ERROR
    try:
        keys, revocations = load_keys(jwks), load_revocations(revoked)
    except CacheError as exc:
        print(f"campus-pass: {exc}", file=sys.stderr)
        return USAGE_ERROR
    text = sys.stdin.read() if args.text == "-" else args.text
    result = verify(text, keys, revocations, issuer=args.issuer, facility=args.facility,
                    leeway_s=args.leeway)
    print(json.dumps(_as_json(result), ensure_ascii=False) if args.json else _as_line(result))
    return result.exit_code


def _as_line(result: Result) -> str:
    if not result.campus_id:
        return f"{result.verdict.upper()}: {result.reason}"
    until = datetime.fromtimestamp(result.expires_at, UTC).strftime("%H:%M:%S UTC")
    who = f"{result.name} (campus id {result.campus_id})"
    proves = ", ".join(result.entitlements)
    if result.verdict is Verdict.VALID:
        return f"VALID: {who}, {proves}, until {until}"
    return f"{result.verdict.upper()}: {who}: {result.reason}"


def _as_json(result: Result) -> dict[str, object]:
    return {"verdict": result.verdict.value, "exit_code": result.exit_code,
            "reason": result.reason, "campus_id": result.campus_id, "name": result.name,
            "entitlements": list(result.entitlements), "expires_at": result.expires_at,
            "pass_id": result.pass_id}


if __name__ == "__main__":
    sys.exit(main())
