"""The `heard` command."""

from __future__ import annotations

import os
from pathlib import Path

import typer

# Nothing heavy at the top: `heard text screen` and `heard votes groups` are run by other
# programs, often once per batch, and shouldn't pay for loading the web app. Each command
# imports what it needs.

cli = typer.Typer(
    help="Heard: hear from children, young people and parents, safely.", no_args_is_help=True
)
db_cli = typer.Typer(help="The database.", no_args_is_help=True)
jobs_cli = typer.Typer(help="Background jobs.", no_args_is_help=True)
text_cli = typer.Typer(help="Screening and redaction (JSON lines).", no_args_is_help=True)
votes_cli = typer.Typer(help="Statement votes.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(jobs_cli, name="jobs")
cli.add_typer(text_cli, name="text")
cli.add_typer(votes_cli, name="votes")


def upgrade_database(url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    from app.config import ROOT

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["skip_logging"] = True
    if url:
        config.attributes["url"] = url
    command.upgrade(config, "head")


def is_loopback_host(host: str) -> bool:
    import ipaddress

    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    reload: bool = False,
    allow_remote_dev: bool = typer.Option(
        False,
        "--allow-remote-dev",
        help="Let other machines reach a development server (anyone who can reach it can "
        "read its emails, sign-in links included). Never on a network you don't trust.",
    ),
) -> None:
    """Start the web server."""
    import uvicorn

    from app.config import get_settings

    # Every server process works out its share of the database connections from this.
    os.environ["HEARD_WEB_WORKERS"] = str(workers)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.env == "development" and not is_loopback_host(host) and not allow_remote_dev:
        typer.echo(
            f"Refusing to listen on {host} in development: anyone who can reach it could ask "
            "for a staff sign-in link and read it at /dev/mail. Set HEARD_ENV=production (with "
            "HEARD_SECRET_KEY and HEARD_SMTP_HOST) for a real server, or add --allow-remote-dev "
            "if you really mean it.",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1 and not settings.redis_url:
        typer.echo(
            "Warning: with several workers and no HEARD_REDIS_URL, each worker counts rate "
            "limits on its own and live updates fall back to polling. Set HEARD_REDIS_URL to "
            "share them.",
            err=True,
        )
    uvicorn.run(
        "app.main:build",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=True,
        # Only these addresses may say who the visitor is (X-Forwarded-For): rate limits
        # count per visitor, not per proxy.
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        # Held-open live streams would otherwise keep a stopping server waiting.
        timeout_graceful_shutdown=5,
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Run every migration that has not run yet."""
    upgrade_database()
    typer.echo("Database is up to date.")


@cli.command()
def demo() -> None:
    """Load the demo programme (running it again changes nothing)."""
    from app.config import get_settings
    from app.db import make_engine, session_factory, utcnow
    from app.services import demo as demo_service

    settings = get_settings()
    open_session = session_factory(make_engine(settings.database_url))
    with open_session(True) as session:
        programme = demo_service.load(session, utcnow())
        session.commit()
        typer.echo(f"Demo data ready: {programme.title}")


@cli.command("create-staff")
def create_staff(
    email: str,
    role: list[str] = typer.Option(
        ..., "--role", help="Repeat for several roles: admin, facilitator, moderator, …"
    ),
    name: str | None = typer.Option(None, "--name"),
) -> None:
    """Create or update a staff account; the last line printed is a one-time sign-in link."""
    from app.config import get_settings
    from app.db import make_engine, session_factory, utcnow
    from app.models import Role
    from app.services import audit
    from app.services import staff as staff_service

    try:
        roles = [Role(value) for value in role]
    except ValueError:
        raise typer.BadParameter(
            "roles are " + ", ".join(r.value for r in Role), param_hint="--role"
        ) from None
    settings = get_settings()
    open_session = session_factory(make_engine(settings.database_url))
    with open_session(True) as session:
        member = staff_service.create_or_update(session, email, roles, display_name=name)
        url = staff_service.issue_sign_in_link(session, settings, member, utcnow())
        audit.record(
            session,
            None,
            "staff.created_by_command",
            record_type="staff_user",
            record_id=member.id,
            roles=[r.value for r in roles],
        )
        session.commit()
    typer.echo(f"Staff account ready: {member.email} ({', '.join(r.value for r in roles)})")
    typer.echo(f"Sign-in link (works once, for {settings.sign_in_link_minutes} minutes):")
    typer.echo(url)


@jobs_cli.command("run")
def jobs_run() -> None:
    """Run the scheduled jobs and send the outbox once: one round of `heard worker`, for cron.

    Safe to run twice at once, or beside `heard worker`: a job runs at most once a minute.
    """
    from app.config import get_settings
    from app.db import make_engine, session_factory, utcnow
    from app.services import jobs
    from app.services import worker as worker_service

    settings = get_settings()
    jobs.load()
    engine = make_engine(settings.database_url)
    try:
        result = worker_service.one_round(session_factory(engine), settings, utcnow())
    finally:
        engine.dispose()
    for line in result.lines():
        typer.echo(line)
    if result.job_report is not None and result.job_report.failed:
        raise typer.Exit(1)  # cron mails or alerts on a failed run; the log says which job


@cli.command()
def worker(
    once: bool = typer.Option(False, "--once", help="One round of work, then stop."),
) -> None:
    """Send queued email every few seconds and run scheduled jobs every minute.

    Safe to run twice. SIGTERM or Ctrl-C finishes the email being sent, then stops.
    """
    from app.config import get_settings
    from app.services import worker as worker_service

    worker_service.run(get_settings(), once=once)


@text_cli.command("screen")
def text_screen() -> None:
    """JSON lines in ({"text"}), one {"action", "reasons"} line out per input."""
    import sys

    from app.text import screening

    screening.screen_stream(sys.stdin, sys.stdout)


@text_cli.command("redact")
def text_redact() -> None:
    """JSON lines in ({"text", "known_names"}), one {"spans", "redacted"} line out per input."""
    import sys

    from app.text import redaction

    redaction.redact_stream(sys.stdin, sys.stdout)


@votes_cli.command("groups")
def votes_groups(
    input: Path = typer.Option(..., "--input", help="CSV: participant,statement,vote"),
) -> None:
    """Opinion groups, consensus and distinctive statements from votes, as JSON."""
    from app.services import opinion_groups

    typer.echo(opinion_groups.groups_json_from_csv(input))


def main() -> None:
    Path("var").mkdir(exist_ok=True)
    cli()


if __name__ == "__main__":
    main()
