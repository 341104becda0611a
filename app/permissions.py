"""Who may do what: named predicates, used by routes and templates alike. Deny by default.

Route-level rules are `Policy` objects; each route declares exactly one (the role-matrix test
fails for a route without). Object-level rules (is this *my* sign-up?) are predicates called
by the dependency that loads the object.
"""

from __future__ import annotations

from collections.abc import Callable

from app.models import Role
from app.services.identity import Identity


class NeedsSignIn(Exception):
    """Raised for an anonymous person on a page that needs them signed in."""

    def __init__(self, who: str) -> None:
        self.who = who


class Policy:
    def __init__(self, name: str, check: Callable[[Identity], bool], *, who: str = "") -> None:
        self.name = name
        self.check = check
        self.who = who  # "staff" or "participant": where an anonymous person is sent to sign in

    def __repr__(self) -> str:
        return f"Policy({self.name})"


def _anyone(_: Identity) -> bool:
    return True


def _participant(identity: Identity) -> bool:
    return identity.participant is not None


def _any_staff(identity: Identity) -> bool:
    return identity.staff is not None


def staff_with(*roles: Role) -> Callable[[Identity], bool]:
    def check(identity: Identity) -> bool:
        return identity.staff is not None and identity.has_any_role(*roles)

    return check


PUBLIC = Policy("public", _anyone)
PARTICIPANT = Policy("participant", _participant, who="participant")
ANY_STAFF = Policy("any_staff", _any_staff, who="staff")
ADMIN = Policy("admin", staff_with(Role.ADMIN), who="staff")
FACILITATOR = Policy("facilitator", staff_with(Role.ADMIN, Role.FACILITATOR), who="staff")
MODERATOR = Policy("moderator", staff_with(Role.MODERATOR, Role.SAFEGUARDING_LEAD), who="staff")
SAFEGUARDING = Policy("safeguarding", staff_with(Role.SAFEGUARDING_LEAD), who="staff")
ANALYST = Policy("analyst", staff_with(Role.ADMIN, Role.ANALYST), who="staff")
REVIEWER = Policy("reviewer", staff_with(Role.ADMIN, Role.REVIEWER), who="staff")
# Moderating spaces: moderators and safeguarding leads, and the staff who run a workshop
# (admins, its facilitators). Which spaces: `can_moderate`.
MODERATE = Policy(
    "moderate",
    staff_with(Role.ADMIN, Role.FACILITATOR, Role.MODERATOR, Role.SAFEGUARDING_LEAD),
    who="staff",
)
# The staff admin screen: admins everywhere only (a programme's admin can't grant roles).
MANAGE_STAFF = Policy("manage_staff", lambda identity: identity.has_role(Role.ADMIN), who="staff")
# Development helpers (the mail viewer): a 404 anywhere but development, whoever asks.
DEVELOPMENT_ONLY = Policy("development_only", _anyone)


# Predicates for templates and object-level checks.


def can_manage_staff(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN)


def can_see_staff_area(identity: Identity) -> bool:
    return identity.staff is not None


def can_view_audit_log(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN)


def can_facilitate(identity: Identity, programme_id: int | None = None) -> bool:
    """May set up and run workshops in this programme: an admin or facilitator of it, or of
    every programme. Without a programme: only someone who holds the role everywhere."""
    return identity.has_role(Role.ADMIN, programme_id) or identity.has_role(
        Role.FACILITATOR, programme_id
    )


def can_run_workshops_somewhere(identity: Identity) -> bool:
    """An admin or facilitator anywhere (in one programme will do): the staff workshop pages
    are theirs, showing only the workshops they run. The route policy asks the same."""
    return FACILITATOR.check(identity)


def can_change_consent(identity: Identity, participant_id: int | None) -> bool:
    """Only the person themselves changes their consents (a parent answers by their link)."""
    return owns(identity, participant_id)


def can_run_workshop(identity: Identity, programme_id: int, facilitator_ids: set[int]) -> bool:
    """A workshop's own staff: admins, and the facilitators assigned to that workshop."""
    if identity.staff is None:
        return False
    if identity.has_role(Role.ADMIN, programme_id):
        return True
    return identity.staff.id in facilitator_ids and identity.has_role(
        Role.FACILITATOR, programme_id
    )


def can_moderate(identity: Identity, programme_id: int, facilitator_ids: set[int]) -> bool:
    """May moderate a space: moderators and safeguarding leads of its programme (or of every
    programme), and the staff who run its workshop (its admins and assigned facilitators)."""
    return (
        identity.has_role(Role.MODERATOR, programme_id)
        or identity.has_role(Role.SAFEGUARDING_LEAD, programme_id)
        or can_run_workshop(identity, programme_id, facilitator_ids)
    )


def can_moderate_somewhere(identity: Identity) -> bool:
    return MODERATE.check(identity)


def can_see_concerns(identity: Identity, programme_id: int | None) -> bool:
    """Concerns are for safeguarding leads only: of their programme, or of every one."""
    return identity.has_role(Role.SAFEGUARDING_LEAD, programme_id)


def can_see_concerns_somewhere(identity: Identity) -> bool:
    return SAFEGUARDING.check(identity)


def can_change_screening_words(identity: Identity) -> bool:
    return MODERATOR.check(identity)


def owns(identity: Identity, participant_id: int | None) -> bool:
    """A participant's own record, and nobody else's (changing an id in a URL gets a 404)."""
    return (
        identity.participant is not None
        and participant_id is not None
        and identity.participant.id == participant_id
    )


def can_read_calls_somewhere(identity: Identity) -> bool:
    return ANALYST.check(identity)


def can_review_somewhere(identity: Identity) -> bool:
    return REVIEWER.check(identity)


def can_run_programmes_somewhere(identity: Identity) -> bool:
    return ADMIN.check(identity)


TEMPLATE_PREDICATES = {
    "can_read_calls_somewhere": can_read_calls_somewhere,
    "can_review_somewhere": can_review_somewhere,
    "can_run_programmes_somewhere": can_run_programmes_somewhere,
    "can_manage_staff": can_manage_staff,
    "can_see_staff_area": can_see_staff_area,
    "can_view_audit_log": can_view_audit_log,
    "can_facilitate": can_facilitate,
    "can_run_workshops_somewhere": can_run_workshops_somewhere,
    "can_change_consent": can_change_consent,
    "can_moderate_somewhere": can_moderate_somewhere,
    "can_see_concerns_somewhere": can_see_concerns_somewhere,
    "can_change_screening_words": can_change_screening_words,
}
