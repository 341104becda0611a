"""Staff accounts, roles and sign-in by emailed link."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app import emails, redirects
from app.config import Settings
from app.models import Role, StaffRole, StaffUser
from app.services import audit, identity, my_data, outbox
from app.services.identity import Identity

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


def sign_in_url(settings: Settings, token: str, next_page: str | None = None) -> str:
    """The emailed link; `next_page` (a safe local path) is where it lands after signing in."""
    url = f"{settings.base_url.rstrip('/')}/staff/sign-in/link?token={token}"
    return redirects.with_next(url, redirects.safe_next(next_page))


def issue_sign_in_link(
    session: Session,
    settings: Settings,
    staff: StaffUser,
    now: datetime,
    next_page: str | None = None,
) -> str:
    token = identity.issue_link_token(
        session, now, timedelta(minutes=settings.sign_in_link_minutes), STAFF_LINK, staff=staff
    )
    return sign_in_url(settings, token, next_page)


def email_sign_in_link(
    session: Session, settings: Settings, email: str, now: datetime, next_page: str | None = None
) -> None:
    """Email a link if the address belongs to active staff. Say nothing either way."""
    staff = find_by_email(session, email)
    if staff is None or not staff.active:
        audit.record(session, None, "staff.sign_in_link_refused", reason="unknown or inactive")
        return
    mail = emails.render(
        "staff/sign_in_link",
        settings,
        now,
        name=staff.display_name,
        url=issue_sign_in_link(session, settings, staff, now, next_page),
        minutes=settings.sign_in_link_minutes,
    )
    outbox.queue(
        session, to=staff.email, subject=mail.subject, body=mail.text, html=mail.html, now=now
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


# The admin screen: invite, change roles, deactivate, end sessions. Each change is audited.

RoleGrant = tuple[Role, int | None]  # a role everywhere (None) or in one programme


def everyone(session: Session) -> list[tuple[StaffUser, list[StaffRole]]]:
    members = session.exec(select(StaffUser).order_by(col(StaffUser.email))).all()
    roles = session.exec(select(StaffRole).order_by(col(StaffRole.id))).all()
    held: dict[int, list[StaffRole]] = {}
    for row in roles:
        held.setdefault(row.staff_id, []).append(row)
    return [(m, held.get(m.id or 0, [])) for m in members]


def grants(session: Session, staff_id: int) -> set[RoleGrant]:
    rows = session.exec(select(StaffRole).where(StaffRole.staff_id == staff_id)).all()
    return {(Role(r.role), r.programme_id) for r in rows}


def set_roles(
    session: Session, actor: Identity, member: StaffUser, wanted: set[RoleGrant]
) -> tuple[set[RoleGrant], set[RoleGrant]]:
    """Make a person's roles exactly `wanted`. Returns (added, removed)."""
    assert member.id is not None
    rows = session.exec(select(StaffRole).where(StaffRole.staff_id == member.id)).all()
    have = {(Role(r.role), r.programme_id): r for r in rows}
    added = wanted - set(have)
    removed = set(have) - wanted
    for grant in removed:
        session.delete(have[grant])
    session.flush()
    for role, programme_id in added:
        session.add(StaffRole(staff_id=member.id, role=role, programme_id=programme_id))
    session.flush()
    if added or removed:
        audit.record(
            session,
            actor,
            "staff.roles_changed",
            record_type="staff_user",
            record_id=member.id,
            added=sorted(_grant_text(g) for g in added),
            removed=sorted(_grant_text(g) for g in removed),
        )
    return added, removed


def _grant_text(grant: RoleGrant) -> str:
    role, programme_id = grant
    return role.value if programme_id is None else f"{role.value}@programme:{programme_id}"


def invite(
    session: Session,
    settings: Settings,
    actor: Identity,
    *,
    email: str,
    display_name: str,
    roles: set[RoleGrant],
    now: datetime,
) -> StaffUser:
    """Create (or reactivate) an account with these roles and email it a sign-in link."""
    member = find_by_email(session, email)
    if member is None:
        member = StaffUser(
            email=normalise_email(email), display_name=outbox.one_line(display_name)[:120]
        )
        session.add(member)
        session.flush()
    member.active = True
    member.display_name = outbox.one_line(display_name)[:120] or member.display_name
    session.add(member)
    set_roles(session, actor, member, roles | grants(session, member.id or 0))
    token = identity.issue_link_token(
        session, now, timedelta(days=settings.staff_invite_days), STAFF_LINK, staff=member
    )
    mail = emails.render(
        "staff/invite",
        settings,
        now,
        name=member.display_name,
        url=sign_in_url(settings, token),
        days=settings.staff_invite_days,
    )
    outbox.queue(
        session, to=member.email, subject=mail.subject, body=mail.text, html=mail.html, now=now
    )
    audit.record(
        session,
        actor,
        "staff.invited",
        record_type="staff_user",
        record_id=member.id,
        roles=sorted(_grant_text(g) for g in roles),
    )
    return member


def set_active(session: Session, actor: Identity, member: StaffUser, active: bool) -> None:
    member.active = active
    session.add(member)
    if not active:
        identity.end_all_sessions(session, staff_id=member.id)
    audit.record(
        session,
        actor,
        "staff.reactivated" if active else "staff.deactivated",
        record_type="staff_user",
        record_id=member.id,
    )


def end_sessions(session: Session, actor: Identity, member: StaffUser) -> int:
    ended = identity.end_all_sessions(session, staff_id=member.id)
    audit.record(
        session,
        actor,
        "staff.sessions_ended",
        record_type="staff_user",
        record_id=member.id,
        sessions=ended,
    )
    return ended


def sign_in_by_email_claim(
    session: Session, email: str | None, now: datetime, subject: str | None = None
) -> StaffUser | None:
    """Single sign-on: the provider vouches for the email; it must be an invited, active
    account. The provider's `sub` is kept at the first sign-in; after that only the same
    `sub` may use the account (an address given to someone else at the provider can't)."""
    member = find_by_email(session, email) if email else None
    reason = None
    if member is None or not member.active:
        reason = "unknown email" if member is None else "inactive"
    elif not subject or len(subject) > 255:
        reason = "no subject"
    elif member.oidc_subject is not None and member.oidc_subject != subject:
        reason = "subject mismatch"
    elif member.oidc_subject is None and _subject_taken(session, subject):
        reason = "subject bound to another account"
    if reason is not None or member is None:
        audit.record(
            session,
            None,
            "staff.sign_in_failed",
            method="oidc",
            reason=reason,
            email_hash=oidc_email_hash(email or ""),
        )
        return None
    if member.oidc_subject is None:
        member.oidc_subject = subject
        audit.record(
            session, None, "staff.oidc_bound", record_type="staff_user", record_id=member.id
        )
    member.last_sign_in_at = now
    session.add(member)
    return member


def _subject_taken(session: Session, subject: str) -> bool:
    found = session.exec(select(StaffUser.id).where(StaffUser.oidc_subject == subject)).first()
    return found is not None


def oidc_email_hash(email: str) -> str:
    """Refused emails are audited by a short hash, so the log holds no stranger's address."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:16]


# Erasing a former member of staff -------------------------------------------------------------

ERASE_REASON = "former staff member, removed by an admin"


def is_erased(member: StaffUser) -> bool:
    """An erased account keeps its row (others' records point at it) under a placeholder."""
    placeholder = StaffUser.personal_data.replacements["email"]
    return bool(member.email == placeholder.format(id=member.id))


def why_not_erase(actor: Identity, member: StaffUser) -> str | None:
    """None if `actor` may erase `member` now; otherwise "self", "erased" or "active".

    Nobody erases their own account, and an account is switched off (signed out, roles
    still visible) before it can be erased, so erasing is always a second, deliberate step.
    """
    if actor.staff is not None and actor.staff.id == member.id:
        return "self"
    if is_erased(member):
        return "erased"
    if member.active:
        return "active"
    return None


def erase(session: Session, actor: Identity, member: StaffUser) -> dict[str, int]:
    """Anonymise a former member of staff, de-identify their audit entries, end their sessions.

    `my_data.erase` does the work from the personal-data declarations and audits it.
    """
    assert member.id is not None and why_not_erase(actor, member) is None
    return my_data.erase(session, "staff", member.id, reason=ERASE_REASON, actor=actor)
