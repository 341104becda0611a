"""Staff accounts, roles and sign-in by emailed link."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app.config import Settings
from app.models import Role, StaffRole, StaffUser
from app.services import audit, identity, outbox

STAFF_LINK = "staff_sign_in"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(session: Session, email: str) -> StaffUser | None:
    return session.exec(
        select(StaffUser).where(func.lower(StaffUser.email) == normalise_email(email))
    ).first()


def create_or_update(
    session: Session, email: str, roles: list[Role], *, display_name: str | None = None
) -> StaffUser:
    staff = find_by_email(session, email)
    if staff is None:
        staff = StaffUser(
            email=normalise_email(email),
            display_name=display_name or normalise_email(email).split("@")[0],
        )
        session.add(staff)
        session.flush()
    staff.active = True
    held = {
        r.role
        for r in session.exec(
            select(StaffRole).where(
                StaffRole.staff_id == staff.id, col(StaffRole.programme_id).is_(None)
            )
        )
    }
    assert staff.id is not None
    for role in roles:
        if role not in held:
            session.add(StaffRole(staff_id=staff.id, role=role))
    session.flush()
    return staff


def sign_in_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/staff/sign-in/link?token={token}"


def issue_sign_in_link(
    session: Session, settings: Settings, staff: StaffUser, now: datetime
) -> str:
    token = identity.issue_link_token(
        session, now, timedelta(minutes=settings.sign_in_link_minutes), STAFF_LINK, staff=staff
    )
    return sign_in_url(settings, token)


def email_sign_in_link(session: Session, settings: Settings, email: str, now: datetime) -> None:
    """Email a link if the address belongs to active staff. Say nothing either way."""
    staff = find_by_email(session, email)
    if staff is None or not staff.active:
        audit.record(session, None, "staff.sign_in_link_refused", reason="unknown or inactive")
        return
    url = issue_sign_in_link(session, settings, staff, now)
    outbox.queue(
        session,
        to=staff.email,
        subject="Your link to sign in to Heard",
        body=(
            f"Hello {staff.display_name},\n\nUse this link to sign in to Heard:\n\n{url}\n\n"
            f"It works once, for {settings.sign_in_link_minutes} minutes.\n"
            "If you did not ask for it, you can ignore this email.\n"
        ),
        now=now,
    )
    audit.record(
        session, None, "staff.sign_in_link_sent", record_type="staff_user", record_id=staff.id
    )


def redeem_sign_in_link(session: Session, token: str, now: datetime) -> StaffUser | None:
    row = identity.redeem_link_token(session, token, STAFF_LINK, now)
    if row is None or row.staff_id is None:
        audit.record(session, None, "staff.sign_in_failed", reason="link not valid")
        return None
    staff = session.get(StaffUser, row.staff_id)
    if staff is None or not staff.active:
        audit.record(session, None, "staff.sign_in_failed", reason="inactive")
        return None
    staff.last_sign_in_at = now
    session.add(staff)
    return staff
