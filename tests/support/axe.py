"""axe-core (tests/interop/node_modules, pinned in tests/interop/package.json) run inside a
Playwright page: the serious and critical violations, readable in an assertion message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "interop" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now: each with its rule id,
    impact, help text and the CSS targets of the offending elements."""
    if not AXE.exists():
        raise RuntimeError("axe-core is missing: run `make test` (npm ci in tests/interop)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated rather than added as a <script>: the pages' Content-Security-Policy
        # (default-src 'none') rightly refuses an injected script tag.
        page.evaluate("() => { " + AXE.read_text(encoding="utf-8") + "\n}")
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [", ".join(map(str, node["target"])) for node in v["nodes"]][:5]}
            for v in found if v["impact"] in BLOCKING]


def report(found: list[dict[str, Any]]) -> str:
    """One line per violation: ``rule (impact): help -> targets``."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> {'; '.join(v['targets'])}"
                     for v in found)
