"""Every write to studios, studio memberships and invitations."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from portal.access.enforce import require
from portal.access.policy import PROJECT_ROLES, Action
from portal.audit.services import record
from portal.core.email import send_on_commit
from portal.live.services import access_changed_on_commit
from portal.projects.models import Project, ProjectMembership
from portal.studios.models import Invitation, Studio, StudioMembership, hash_invitation_token

User = get_user_model()

# --- studios (platform staff) -------------------------------------------------------------


def _require_platform_staff(actor) -> None:
    # actor None means the command line (manage.py), run by whoever operates the platform.
    if actor is not None and not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only platform staff can onboard studios.")


@transaction.atomic
def studio_create(
    *, actor, name: str, slug: str = "", storage_quota_bytes: int | None = None, allow_external_ai: bool = False
) -> Studio:
    _require_platform_staff(actor)
    slug = slug or slugify(name)
    if Studio.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A studio with the slug “{slug}” already exists."})
    studio = Studio(name=name, slug=slug, allow_external_ai=allow_external_ai)
    if storage_quota_bytes is not None:
        studio.storage_quota_bytes = storage_quota_bytes
    studio.full_clean()
    studio.save()
    record(action="studio.create", actor=actor, studio=studio, target=studio, details={"slug": slug})
    return studio


STAFF_FIELDS = {"name", "status", "storage_quota_bytes"}
ADMIN_FIELDS = {"require_two_factor", "allow_external_ai", "retention_days"}


def studio_update(*, actor, studio: Studio, **changes) -> Studio:
    """Studio admins set their own policies; platform staff set name, status and quota."""
    unknown = set(changes) - STAFF_FIELDS - ADMIN_FIELDS
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if set(changes) & STAFF_FIELDS:
        _require_platform_staff(actor)
    if set(changes) & ADMIN_FIELDS and not (actor is not None and actor.is_staff):
        require(actor, Action.STUDIO_MANAGE, studio)
    with transaction.atomic():
        studio = Studio.objects.select_for_update(no_key=True).get(pk=studio.pk)
        before = {k: getattr(studio, k) for k in changes}
        for key, value in changes.items():
            setattr(studio, key, value)
        studio.full_clean()
        studio.save()
        diff = {k: [before[k], v] for k, v in changes.items() if before[k] != v}
        if diff:
            action = "studio.update"
            if "status" in diff:
                action = {"suspended": "studio.suspend", "active": "studio.activate"}.get(changes["status"], action)
            record(action=action, actor=actor, studio=studio, target=studio, details={"changes": diff})
            if "status" in diff:
                access_changed_on_commit(studio.projects.values_list("pk", flat=True))
    return studio


def studio_suspend(*, actor, studio: Studio) -> Studio:
    return studio_update(actor=actor, studio=studio, status=Studio.Status.SUSPENDED)


def studio_activate(*, actor, studio: Studio) -> Studio:
    return studio_update(actor=actor, studio=studio, status=Studio.Status.ACTIVE)


# --- invitations ---------------------------------------------------------------------------


def _normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _accept_url(raw_token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("studios:invitation_accept", args=[raw_token])


def _email_invitation(invitation: Invitation, raw_token: str) -> None:
    send_on_commit(
        to=invitation.email,
        subject=f"You are invited to {invitation.studio.name} on the AI Studio Partner Portal",
        template="emails/invitation.txt",
        context={"invitation": invitation, "url": _accept_url(raw_token), "days": settings.INVITATION_EXPIRY_DAYS},
    )


def _validate_invitation_roles(studio: Studio, studio_role: str, project: Project | None, project_role: str) -> None:
    if studio_role not in StudioMembership.Role.values:
        raise ValidationError({"studio_role": f"Unknown studio role “{studio_role}”."})
    if project is not None:
        if project.studio_id != studio.pk:
            raise ValidationError({"project": "That project does not exist."})
        if project_role not in PROJECT_ROLES:
            raise ValidationError({"project_role": "Choose the role this person will have on the project."})
        if project.is_archived:
            raise ValidationError({"project": "That project is archived."})
    elif project_role:
        raise ValidationError({"project_role": "A project role needs a project."})


def invitation_send(
    *,
    actor,
    studio: Studio,
    email: str,
    studio_role: str = StudioMembership.Role.MEMBER,
    project: Project | None = None,
    project_role: str = "",
    as_platform_staff: bool = False,
    send_email: bool = True,
) -> tuple[Invitation, str]:
    """Invite someone into a studio. Returns the invitation and the raw token (emailed, never stored).

    send_email=False is for an invitation its caller accepts at once with the token (the demo seed
    makes its accounts that way): nobody is mailed, and the audit row says so."""
    if as_platform_staff:
        _require_platform_staff(actor)
    else:
        require(actor, Action.STUDIO_MEMBERS_MANAGE, studio)
    email = _normalize_email(email)
    if not email:
        raise ValidationError({"email": "Enter an email address."})
    if studio.is_suspended:
        raise ValidationError(f"{studio.name} is suspended: activate it before inviting anyone.")
    _validate_invitation_roles(studio, studio_role, project, project_role)
    if StudioMembership.objects.filter(studio=studio, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {studio.name}."})
    raw, token_hash = _new_token()
    with transaction.atomic():
        # An old pending-but-expired invitation is closed so the new one can take its place.
        stale = Invitation.objects.select_for_update().filter(studio=studio, email=email, accepted_at=None, revoked_at=None)
        for old in stale:
            if old.expires_at > timezone.now():
                raise ValidationError({"email": f"{email} already has a pending invitation. Use “Resend” to send it again."})
            old.revoked_at = timezone.now()
            old.save(update_fields=["revoked_at"])
        invitation = Invitation(
            studio=studio,
            email=email,
            studio_role=studio_role,
            project=project,
            project_role=project_role or "",
            token_hash=token_hash,
            invited_by=actor if actor is not None and actor.is_authenticated else None,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS),
        )
        invitation.full_clean(exclude=["token_hash"])
        try:
            with transaction.atomic():
                invitation.save()
        except IntegrityError:
            raise ValidationError({"email": f"{email} already has a pending invitation."}) from None
        record(
            action="invitation.send",
            actor=actor,
            studio=studio,
            project=project,
            target=invitation,
            details={"email": email, "studio_role": studio_role, "project_role": project_role or None}
            | ({} if send_email else {"emailed": False}),
        )
        if send_email:
            _email_invitation(invitation, raw)
    return invitation, raw


def _new_token() -> tuple[str, str]:
    raw = secrets.token_urlsafe(32)
    return raw, hash_invitation_token(raw)


def _require_invitation_manager(actor, invitation: Invitation) -> None:
    if (
        actor is not None
        and actor.is_authenticated
        and actor.is_staff
        and not invitation.studio.memberships.filter(user=actor).exists()
    ):
        return  # platform staff manage invitations from the admin
    require(actor, Action.STUDIO_MEMBERS_MANAGE, invitation.studio)


def invitation_resend(*, actor, invitation: Invitation) -> tuple[Invitation, str]:
    """Send again with a fresh token and a fresh expiry; the old link stops working."""
    _require_invitation_manager(actor, invitation)
    raw, token_hash = _new_token()
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at or invitation.revoked_at:
            raise ValidationError(
                f"This invitation was already {invitation.get_state_display().lower()}; send a new one instead."
            )
        invitation.token_hash = token_hash
        invitation.expires_at = timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS)
        invitation.sent_at = timezone.now()
        invitation.send_count += 1
        invitation.save(update_fields=["token_hash", "expires_at", "sent_at", "send_count"])
        record(
            action="invitation.resend",
            actor=actor,
            studio=invitation.studio,
            target=invitation,
            details={"email": invitation.email, "send_count": invitation.send_count},
        )
        _email_invitation(invitation, raw)
    return invitation, raw


def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    _require_invitation_manager(actor, invitation)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at:
            raise ValidationError("This invitation was already accepted; remove the member instead.")
        if invitation.revoked_at:
            raise ValidationError("This invitation was already revoked.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record(
            action="invitation.revoke",
            actor=actor,
            studio=invitation.studio,
            target=invitation,
            details={"email": invitation.email},
        )
    return invitation


def invitation_find(raw_token: str) -> Invitation | None:
    if not raw_token or len(raw_token) > 200:
        return None
    return Invitation.objects.select_related("studio", "project").filter(token_hash=hash_invitation_token(raw_token)).first()


class InvitationUnusable(Exception):
    """The token is bad, expired, used or revoked; `reason` picks the page shown."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def invitation_check(raw_token: str) -> Invitation:
    invitation = invitation_find(raw_token)
    if invitation is None:
        raise InvitationUnusable("invalid")
    state = invitation.state
    if state != Invitation.State.PENDING:
        raise InvitationUnusable(state, invitation)
    if invitation.studio.is_suspended:
        raise InvitationUnusable("suspended", invitation)
    return invitation


def invitation_refusal_record(*, invitation: Invitation, user, reason: str) -> None:
    """Someone signed in as another account opened an invitation: a denial, so it is recorded
    (outside the refused transaction, which rolled back)."""
    record(
        action="access.denied",
        actor=user if user is not None and user.is_authenticated else None,
        studio=invitation.studio,
        target=invitation,
        details={"attempted": "invitation.accept", "reason": reason, "invited_email": invitation.email},
    )


def invitation_accept(*, raw_token: str, user=None, password: str = "", full_name: str = ""):
    """Accept an invitation: a new person sets a password; an existing account must be signed in
    as the invited address. Returns the (possibly new) user."""
    invitation = invitation_check(raw_token)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update(of=("self",)).select_related("studio", "project").get(pk=invitation.pk)
        if invitation.state != Invitation.State.PENDING:  # lost a race with another acceptance
            raise InvitationUnusable(invitation.state, invitation)
        existing = User.objects.filter(email__iexact=invitation.email).first()
        if existing is not None:
            if user is None or not user.is_authenticated:
                raise InvitationUnusable("sign_in_required", invitation)
            if user.pk != existing.pk:
                raise InvitationUnusable("wrong_account", invitation)
            member = existing
        else:
            if user is not None and user.is_authenticated:
                raise InvitationUnusable("wrong_account", invitation)
            candidate = User(email=invitation.email, full_name=full_name.strip())
            validate_password(password, user=candidate)
            member = User.objects.create_user(email=invitation.email, password=password, full_name=full_name.strip())
        studio = invitation.studio
        membership, created = StudioMembership.objects.get_or_create(
            studio=studio, user=member, defaults={"role": invitation.studio_role}
        )
        if studio.status == Studio.Status.INVITED:
            studio.status = Studio.Status.ACTIVE
            studio.save(update_fields=["status"])
            record(
                action="studio.activate",
                actor=member,
                studio=studio,
                target=studio,
                details={"reason": "first invitation accepted"},
            )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = member
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record(action="invitation.accept", actor=member, studio=studio, target=invitation, details={"email": invitation.email})
        if created:
            record(
                action="membership.add",
                actor=member,
                studio=studio,
                target=membership,
                details={"user": member.email, "role": membership.role, "via": "invitation"},
            )
        if invitation.project_id and not ProjectMembership.objects.filter(project=invitation.project, user=member).exists():
            pm = ProjectMembership.objects.create(project=invitation.project, user=member, role=invitation.project_role)
            record(
                action="project_membership.add",
                actor=member,
                project=invitation.project,
                target=pm,
                details={"user": member.email, "role": pm.role, "via": "invitation"},
            )
    return member


# --- studio memberships --------------------------------------------------------------------


def _admin_count(studio_id: int) -> int:
    return StudioMembership.objects.filter(studio_id=studio_id, role=StudioMembership.Role.STUDIO_ADMIN).count()


def studio_membership_set_role(*, actor, membership: StudioMembership, role: str) -> StudioMembership:
    require(actor, Action.STUDIO_MEMBERS_MANAGE, membership.studio)
    if role not in StudioMembership.Role.values:
        raise ValidationError({"role": f"Unknown studio role “{role}”."})
    with transaction.atomic():
        # Lock every admin row of the studio so two demotions cannot both pass the last-admin check.
        list(
            StudioMembership.objects.select_for_update().filter(
                studio_id=membership.studio_id, role=StudioMembership.Role.STUDIO_ADMIN
            )
        )
        membership = StudioMembership.objects.select_for_update().select_related("user", "studio").get(pk=membership.pk)
        old = membership.role
        if old == role:
            return membership
        if old == StudioMembership.Role.STUDIO_ADMIN and _admin_count(membership.studio_id) <= 1:
            raise ValidationError("This is the last studio admin: make someone else studio admin first.")
        membership.role = role
        membership.save(update_fields=["role"])
        # A studio admin made member may lose projects they held no role on.
        access_changed_on_commit(membership.studio.projects.values_list("pk", flat=True))
        record(
            action="membership.role_change",
            actor=actor,
            studio=membership.studio,
            target=membership,
            details={"user": membership.user.email, "from": old, "to": role},
        )
    return membership


def studio_membership_remove(*, actor, membership: StudioMembership) -> None:
    """Remove someone from the studio and from all its projects."""
    require(actor, Action.STUDIO_MEMBERS_MANAGE, membership.studio)
    with transaction.atomic():
        list(
            StudioMembership.objects.select_for_update().filter(
                studio_id=membership.studio_id, role=StudioMembership.Role.STUDIO_ADMIN
            )
        )
        membership = StudioMembership.objects.select_for_update().select_related("user", "studio").get(pk=membership.pk)
        if membership.role == StudioMembership.Role.STUDIO_ADMIN and _admin_count(membership.studio_id) <= 1:
            raise ValidationError("You cannot remove the last studio admin.")
        project_memberships = list(
            ProjectMembership.objects.filter(project__studio_id=membership.studio_id, user_id=membership.user_id).select_related(
                "project"
            )
        )
        access_changed_on_commit(membership.studio.projects.values_list("pk", flat=True))
        for pm in project_memberships:
            record(
                action="project_membership.remove",
                actor=actor,
                project=pm.project,
                target=pm,
                details={"user": membership.user.email, "role": pm.role, "via": "studio removal"},
            )
            pm.delete()
        record(
            action="membership.remove",
            actor=actor,
            studio=membership.studio,
            target=membership,
            details={"user": membership.user.email, "role": membership.role},
        )
        membership.delete()
