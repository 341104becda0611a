"""Settings, read once from HEARD_* environment variables (and a .env file)."""

from __future__ import annotations

import math
import secrets
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
WEAK_SECRETS = {"", "changeme", "change-me", "secret", "development", "heard", "password"}
MIN_SECRET_LENGTH = 32
# A long secret can still be guessable ("a" x 32, "abcabc...", "password1234" x 3): it must
# also look random. 3 bits a character lets every real random key through (even hex, 4 bits
# at most) and stops one or a few characters repeated; a run of 8 characters seen twice
# stops a short phrase repeated to length.
MIN_SECRET_BITS_PER_CHAR = 3.0
REPEATED_RUN = 8


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARD_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/heard.db"
    # PostgreSQL connections the whole deployment may open (every web process and worker
    # together). Each web process's pool is its share; start-up fails if the server allows
    # fewer. See "Connections" in the README for the arithmetic.
    database_max_connections: int = 80
    # How many web processes and `heard worker` processes share that budget.
    web_workers: int = 1
    background_workers: int = 1
    # Overrides the share worked out from the budget (PostgreSQL only).
    database_pool_size: int | None = None
    # Requests let into one web process at once; the rest wait (up to request_queue_seconds,
    # at most request_queue_max of them) and then get a kind "try again" page. Unset: worked
    # out from the connections each process may hold.
    max_requests_in_flight: int | None = None
    request_queue_seconds: float = 5.0
    request_queue_max: int = 1000
    # Live updates (server-sent events). Open streams per browser session and per address (a
    # class on one school address shares it); a comment this often keeps proxies and phones
    # connected; how often a held stream checks its web session; how often a page polls when
    # no stream gets through; stream reads at once per process (inside the spare connections).
    live_streams_per_session: int = 4
    live_streams_per_address: int = 50
    live_heartbeat_seconds: float = 15
    live_session_check_seconds: float = 30
    live_poll_seconds: int = 10
    live_reads_at_once: int = 2
    # Redis channel for events (default: derived from the database, so deployments sharing a
    # Redis never hear each other).
    live_redis_channel: str | None = None
    # How long a whole room's identical reads are shared (app/cache.py). 0 turns it off.
    read_cache_seconds: float = 2.0
    # One person's own entries (who a browser is, what their room shows) are kept this long
    # where every process hears of every write (one web process, or Redis); else as above.
    read_cache_personal_seconds: float = 30.0
    # Request bodies over this are refused (413) before they are read; forms have at most
    # this many fields. A form that takes a picture may be as big as the picture allows.
    max_body_bytes: int = 1_000_000
    max_form_fields: int = 200
    # Uploaded pictures (app/uploads.py): kept here, outside the web root; at most this big;
    # and, if set, checked by this command (given the file's path; exit status 0 = clean)
    # within this many seconds, e.g. "clamdscan --no-summary".
    upload_dir: Path = Path("var/uploads")
    picture_max_bytes: int = 5_000_000
    upload_scan_command: str = ""
    upload_scan_seconds: float = 60
    # SQLite only: writing requests let in at once per process (SQLite has one writer).
    sqlite_writers: int = 4
    redis_url: str | None = None
    # The proxies in front of Heard whose X-Forwarded-For is believed (comma-separated
    # addresses or networks, "*" for any). Behind a load balancer, set its address here.
    forwarded_allow_ips: str = "127.0.0.1"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/London"

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str = "Heard <no-reply@heard.example.org>"
    mail_dir: Path = Path("var/mail")
    # `heard worker`: seconds between rounds of sending queued email (the scheduled jobs run
    # in the first round of each minute).
    worker_outbox_seconds: float = 5
    # How long a sender's claim on an email lasts: if it dies mid-send, the email goes out
    # after this. Keep it above 600 s (a batch of 10 slow sends x 60 s); tests use 2.
    outbox_lease_seconds: float = 900

    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None

    # Who reads messages sent with the contact form.
    contact_email: str = "team@heard.example.org"
    organisation_name: str = "Heard demo organisation"
    # Where "Exit this page" goes: a neutral site that gives nothing away.
    exit_url: str = "https://www.bbc.co.uk/weather"

    # How long a staff member may be idle before their session ends (WCAG 2.2.1 warns first).
    staff_idle_minutes: int = 30
    participant_device_days: int = 90
    sign_in_link_minutes: int = 15
    parent_consent_under: int = 13
    # A participant with no activity for this long is erased by `heard jobs run`.
    participant_inactive_days: int = 730
    # How long an emailed staff invitation link works (an invitee may not look at once).
    staff_invite_days: int = 3

    # Rate limits, in the `limits` library's notation.
    # Wrong codes per address (right ones don't count: a class shares one address).
    join_rate_per_ip: str = "20/minute"
    # Entries with one right code from one address: high enough for a large workshop on one
    # school address joining in one minute (the bench's 300). Counted per address, so using
    # a code over and over locks out only that address, never the class.
    join_rate_per_code: str = "400/minute"
    sign_in_rate_per_ip: str = "10/minute"
    # Sign-in link emails to one address (over it, the page looks the same; no email is sent).
    sign_in_rate_per_email: str = "5/hour"

    # Workshops: a join code works from this long before the start until this long after the end.
    join_code_opens_minutes_before: int = 30
    join_code_closes_minutes_after: int = 60
    # Form sends per address: a class on one school Wi-Fi shares an address, so this is
    # high; it stops a single machine flooding, not a room.
    form_rate_per_ip: str = "300/minute"

    # Spaces, moderation and safeguarding (issue 11).
    # Posts one person may write in one space in a minute; past it, a kind "slow down".
    space_posts_per_minute: int = 8
    # The longest post, in characters (a live count shows what is left).
    space_post_max_chars: int = 1000
    # How many people must report a post ("Something wrong?") to hide it until reviewed.
    space_reports_to_hide: int = 3
    # A concern no safeguarding lead has opened after this long is escalated to all of them.
    concern_escalate_minutes: int = 15
    # How long concerns are kept (safeguarding records; "Delete me" does not erase them).
    concern_retention_days: int = 365 * 25

    # Security fixes (issue 9). Emails to one recipient across every flow (sign-ups, links,
    # reminders …); over it, the email is not queued, the page looks the same and a log line
    # (without the address) says so.
    mail_rate_per_recipient: str = "10/hour"
    # A staff session ends this long after signing in, however active (as well as when idle).
    staff_session_hours: int = 12

    # Programme updates, "Keep me updated" (issue 12). Requests to subscribe from one address,
    # and confirm emails to one mailbox (over it, the page looks the same; no email is sent).
    subscribe_rate_per_ip: str = "20/hour"
    subscribe_rate_per_email: str = "3/day"
    # How long a confirm link works, and how long an address is kept after unsubscribing.
    subscription_confirm_hours: int = 48
    subscription_keep_days: int = 30
    # Update emails queued a minute by the worker for a large send (the first batch, at
    # most 100, goes when staff press Send). The worker sends them every few seconds.
    update_emails_per_minute: int = 500

    @model_validator(mode="after")
    def _secret_key(self) -> Settings:
        if self.env == "production":
            problems = []
            if not strong_secret(self.secret_key):
                problems.append(
                    "HEARD_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production, not a word, one character "
                    "or a phrase repeated "
                    "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
                )
            if not self.smtp_host:
                problems.append(
                    "HEARD_SMTP_HOST must be set in production: without a mail server, emails "
                    "(with children's details) would be written to files that nobody sends or "
                    "erases."
                )
            if problems:
                raise ValueError(" ".join(problems))
        elif not self.secret_key:
            self.secret_key = _development_secret()
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix needs Secure, which needs HTTPS: production only.
        return "__Host-heard" if self.is_production else "heard_session"

    @property
    def device_cookie_name(self) -> str:
        return "__Host-heard_device" if self.is_production else "heard_device"


def strong_secret(value: str) -> bool:
    """Long enough, and random-looking: not a word, one character or a short phrase repeated."""
    if value.lower() in WEAK_SECRETS or len(value) < MIN_SECRET_LENGTH:
        return False
    counts = Counter(value)
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    if bits < MIN_SECRET_BITS_PER_CHAR:
        return False
    runs = [value[i : i + REPEATED_RUN] for i in range(len(value) - REPEATED_RUN + 1)]
    return len(set(runs)) == len(runs)


def _development_secret() -> str:
    """A per-checkout secret kept in var/ so development sessions survive a restart."""
    path = ROOT / "var" / "dev-secret"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()
    except OSError:
        return secrets.token_urlsafe(48)


@lru_cache
def get_settings() -> Settings:
    return Settings()
