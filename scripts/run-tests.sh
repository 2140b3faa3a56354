#!/usr/bin/env bash
# The whole check, as CI runs it: lint, types, then every test. pytest's "no tests ran"
# (exit code 5) is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

$BIN/ruff check idp connectors campus-pass demo bench tests || exit 1
$BIN/mypy || exit 1

mkdir -p test-artifacts
# Most of a test's time is spent waiting on slapd, PostgreSQL, a browser or a started server,
# so a few more test processes than cores finish the suite sooner (TEST_WORKERS=0: in-process).
# Each test file runs whole in one process (servers started for a module start once), in
# collection order: tests/conftest.py puts the files that start servers first.
$BIN/python -m pytest -n "${TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$status"
