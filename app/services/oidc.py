"""Staff single sign-on with OpenID Connect (authorization code flow with PKCE), via Authlib.

The pending login (state, nonce, PKCE verifier) lives in a short-lived cookie signed with the
secret key and bound to this browser's session cookie, so a login started in one browser
can't be finished in another. The ID token's signature, issuer, audience, expiry and nonce
are all checked; the `email` claim must be verified by the provider and belong to an invited,
active staff account, and the provider's `sub` is bound to that account at its first sign-in.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from app import redirects
from app.config import Settings

COOKIE = "heard_oidc"
PENDING_SECONDS = 600
SCOPE = "openid email profile"
_discovery: dict[str, tuple[float, dict[str, Any], dict[str, Any]]] = {}
CACHE_SECONDS = 3600


class SignInFailed(Exception):
    """The provider's answer could not be trusted or used. `reason` goes to the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Pending:
    state: str
    nonce: str
    verifier: str
    next_page: str | None = None  # the local page to land on once signed in


def redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url.rstrip('/')}/auth/oidc/callback"


def provider(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The discovery document and the signing keys, cached for an hour."""
    issuer = (settings.oidc_issuer or "").rstrip("/")
    cached = _discovery.get(issuer)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1], cached[2]
    try:
        config = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        jwks = httpx.get(config["jwks_uri"], timeout=10).json()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise SignInFailed("provider unreachable") from exc
    if str(config.get("issuer", "")).rstrip("/") != issuer:
        raise SignInFailed("issuer mismatch in discovery")
    _discovery[issuer] = (time.monotonic(), config, jwks)
    return config, jwks


def _client(settings: Settings) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        scope=SCOPE,
        redirect_uri=redirect_uri(settings),
        code_challenge_method="S256",
        timeout=10,
    )


def start(settings: Settings, next_page: str | None = None) -> tuple[str, Pending]:
    """Where to send the browser, and what to remember until it comes back."""
    config, _ = provider(settings)
    pending = Pending(
        state=generate_token(32),
        nonce=generate_token(32),
        verifier=generate_token(64),
        next_page=redirects.safe_next(next_page),
    )
    with _client(settings) as client:
        url, _ = client.create_authorization_url(
            config["authorization_endpoint"],
            state=pending.state,
            nonce=pending.nonce,
            code_verifier=pending.verifier,
        )
    return url, pending


def _mac(settings: Settings, browser_token: str, payload: bytes) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, b"oidc|" + browser_token.encode() + b"|" + payload, "sha256").hexdigest()


def seal(settings: Settings, browser_token: str, pending: Pending, now: float) -> str:
    payload = base64.urlsafe_b64encode(
        json.dumps(
            {
                "s": pending.state,
                "n": pending.nonce,
                "v": pending.verifier,
                "r": pending.next_page,
                "t": int(now),
            }
        ).encode()
    )
    return f"{payload.decode()}.{_mac(settings, browser_token, payload)}"


def unseal(settings: Settings, browser_token: str, value: str | None, now: float) -> Pending:
    if not value or "." not in value:
        raise SignInFailed("no login in progress")
    payload, _, mac = value.rpartition(".")
    if not hmac.compare_digest(mac, _mac(settings, browser_token, payload.encode())):
        raise SignInFailed("login cookie not valid")
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError as exc:
        raise SignInFailed("login cookie not valid") from exc
    if now - int(data["t"]) > PENDING_SECONDS:
        raise SignInFailed("login took too long")
    return Pending(
        state=data["s"],
        nonce=data["n"],
        verifier=data["v"],
        next_page=redirects.safe_next(data.get("r")),
    )


def finish(settings: Settings, pending: Pending, params: dict[str, str]) -> dict[str, Any]:
    """Check the provider's answer, exchange the code and return the verified claims."""
    if "error" in params:
        raise SignInFailed(f"provider said {params['error'][:40]}")
    state = params.get("state", "")
    if not state or not hmac.compare_digest(state, pending.state):
        raise SignInFailed("state mismatch")
    code = params.get("code")
    if not code:
        raise SignInFailed("no code")
    config, jwks = provider(settings)
    with _client(settings) as client:
        try:
            token = client.fetch_token(
                config["token_endpoint"],
                code=code,
                code_verifier=pending.verifier,
                grant_type="authorization_code",
            )
        except Exception as exc:  # the provider refused the code (used, expired, wrong)
            raise SignInFailed("code refused") from exc
        try:
            claims = _verify_id_token(settings, token.get("id_token"), jwks, pending.nonce)
        except SignInFailed:
            # The provider may have rotated its keys since we cached them: look once more.
            _discovery.pop((settings.oidc_issuer or "").rstrip("/"), None)
            _, jwks = provider(settings)
            claims = _verify_id_token(settings, token.get("id_token"), jwks, pending.nonce)
        missing = "email" not in claims or "email_verified" not in claims
        if missing and config.get("userinfo_endpoint"):
            response = client.get(config["userinfo_endpoint"])
            if response.status_code == 200:
                info = response.json()
                if info.get("sub") == claims.get("sub"):
                    claims.update({k: v for k, v in info.items() if k.startswith("email")})
    # Only an address the provider has checked belongs to the person: anyone can type an
    # admin's address into an account of their own at some providers.
    if not email_verified(claims):
        raise SignInFailed("email not verified")
    return claims


def email_verified(claims: dict[str, Any]) -> bool:
    """`email_verified: true` (some providers send the string "true")."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _verify_id_token(
    settings: Settings, id_token: str | None, jwks: dict[str, Any], nonce: str
) -> dict[str, Any]:
    if not id_token:
        raise SignInFailed("no id token")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
        registry = JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": (settings.oidc_issuer or "").rstrip("/")},
            aud={"essential": True, "value": settings.oidc_client_id or ""},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise SignInFailed(f"id token not valid ({type(exc).__name__})") from exc
    return dict(decoded.claims)
