"""Install what the browser tests need that pip does not: axe-core, from its npm release.

`make test` runs this before pytest. It never downloads a browser: the tests drive the
system Chromium (/usr/bin/chromium) through Playwright's Python package, so
`playwright install` is never run. It does nothing when the pinned axe-core is in place.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
AXE = TESTS / "node_modules" / "axe-core"


def pinned_version() -> str:
    return json.loads((TESTS / "package.json").read_text())["dependencies"]["axe-core"]


def installed_version() -> str | None:
    if not (AXE / "axe.min.js").exists():
        return None
    try:
        return json.loads((AXE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def main() -> int:
    wanted = pinned_version()
    if installed_version() == wanted:
        print(f"setup_browser: axe-core {wanted} already installed in tests/node_modules")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print(
            "setup_browser: npm was not found; install Node.js 18 or newer so the browser "
            "tests can load axe-core",
            file=sys.stderr,
        )
        return 1
    # `npm ci` installs exactly what package-lock.json says; without a lock, `npm install`.
    verb = "ci" if (TESTS / "package-lock.json").exists() else "install"
    command = [npm, verb, "--no-audit", "--no-fund", "--prefix", str(TESTS)]
    result = subprocess.run(command, cwd=TESTS, capture_output=True, text=True, check=False)
    if result.returncode != 0 or installed_version() != wanted:
        print(
            f"setup_browser: `npm {verb}` failed (exit {result.returncode}); axe-core {wanted} "
            f"is not installed.\n{result.stdout}{result.stderr}",
            file=sys.stderr,
        )
        return 1
    print(f"setup_browser: installed axe-core {wanted} into tests/node_modules (npm {verb})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
