"""Every table, imported in one place so Alembic and the personal-data registry see them all."""

from app.models.audit import AuditEntry
from app.models.contact import ContactMessage
from app.models.identity import SignInToken, WebSession
from app.models.outbox import OutboxEmail
from app.models.participants import AgeBand, Consent, ConsentPurpose, ConsentState, Participant
from app.models.programmes import Call, CallKind, Phase, Programme, ProgrammeUpdate, Question
from app.models.staff import Role, StaffRole, StaffUser
from app.models.workshops import (
    SignUp,
    SignUpDraft,
    SignUpStatus,
    Workshop,
    WorkshopAttendance,
    WorkshopFacilitator,
    WorkshopMode,
    WorkshopStatus,
)

__all__ = [
    "AgeBand",
    "AuditEntry",
    "Call",
    "CallKind",
    "Consent",
    "ConsentPurpose",
    "ConsentState",
    "ContactMessage",
    "OutboxEmail",
    "Participant",
    "Phase",
    "Programme",
    "ProgrammeUpdate",
    "Question",
    "Role",
    "SignInToken",
    "SignUp",
    "SignUpDraft",
    "SignUpStatus",
    "StaffRole",
    "StaffUser",
    "WebSession",
    "Workshop",
    "WorkshopAttendance",
    "WorkshopFacilitator",
    "WorkshopMode",
    "WorkshopStatus",
]
