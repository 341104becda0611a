"""Start the real OpenID provider (tests/oidc_provider/server.mjs) and talk to it like a person.

The provider is the npm package `oidc-provider`; its node_modules are installed here on first
use (`npm install --prefix tests/oidc_provider`), only when they are missing.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.conftest import require

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "heard"
CLIENT_SECRET = "heard-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        require("Node.js", "node or npm is not on PATH")
    assert node is not None and npm is not None
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        result = subprocess.run(
            [npm, "install", "--prefix", str(PROVIDER_DIR), "--no-audit", "--no-fund"],
            cwd=PROVIDER_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            require("oidc-provider", f"npm install failed: {result.stderr[-500:]}")
    return node


@contextmanager
def running_provider(redirect_uri: str) -> Iterator[str]:
    """Yield the issuer URL of a provider that knows Heard's redirect URI."""
    node = ensure_installed()
    process = subprocess.Popen(
        [node, "server.mjs", "--redirect-uri", redirect_uri],
        cwd=PROVIDER_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            require("oidc-provider", "the provider did not start")
        yield str(json.loads(line)["issuer"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def _form(html: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html[:500]
    fields = {
        name: unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)
    }
    return unescape(action.group(1)), fields


def log_in_at_provider(auth_url: str, redirect_uri: str, login: str) -> dict[str, str]:
    """Follow the provider's own login and consent screens; return what it sends Heard back."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(auth_url)
        for _ in range(12):
            if response.status_code in {302, 303}:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(redirect_uri):
                    query = parse_qs(urlsplit(location).query)
                    return {k: v[0] for k, v in query.items()}
                response = browser.get(location)
                continue
            assert response.status_code == 200, response.text[:500]
            action, fields = _form(response.text)
            if 'name="login"' in response.text:
                fields.update(login=login, password="any-password")
            response = browser.post(urljoin(str(response.url), action), data=fields)
    raise AssertionError("the provider never sent the browser back to Heard")
