"""Every write to projects and project memberships."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.access.enforce import require
from portal.access.policy import PROJECT_ROLES, Action
from portal.audit.services import record
from portal.live.services import access_changed_on_commit
from portal.projects.models import Project, ProjectMembership
from portal.studios.models import Studio, StudioMembership


def project_create(*, actor, studio: Studio, code: str, name: str, frame_rate: str = "24/1") -> Project:
    require(actor, Action.PROJECT_CREATE, studio)
    code = (code or "").strip().upper()
    if Project.objects.filter(studio=studio, code=code).exists():
        raise ValidationError({"code": f"{studio.name} already has a project with the code {code}."})
    with transaction.atomic():
        project = Project(studio=studio, code=code, name=(name or "").strip(), frame_rate=frame_rate, created_by=actor)
        project.full_clean()
        project.save()
        record(
            action="project.create",
            actor=actor,
            project=project,
            target=project,
            details={"code": code, "name": project.name, "frame_rate": frame_rate},
        )
    return project


def project_update(*, actor, project: Project, name: str | None = None, frame_rate: str | None = None) -> Project:
    require(actor, Action.PROJECT_MANAGE, project)
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).select_related("studio").get(pk=project.pk)
        if project.is_archived:
            raise ValidationError("The project is archived: restore it before changing it.")
        changes = {}
        if name is not None and name.strip() != project.name:
            changes["name"] = [project.name, name.strip()]
            project.name = name.strip()
        if frame_rate is not None and frame_rate != project.frame_rate:
            changes["frame_rate"] = [project.frame_rate, frame_rate]
            project.frame_rate = frame_rate
        if changes:
            project.full_clean()
            project.save()
            record(action="project.update", actor=actor, project=project, target=project, details={"changes": changes})
    return project


def _set_archived(*, actor, project: Project, archived: bool) -> Project:
    require(actor, Action.PROJECT_MANAGE, project)
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).select_related("studio").get(pk=project.pk)
        if project.is_archived == archived:
            raise ValidationError("The project is already archived." if archived else "The project is not archived.")
        project.status = Project.Status.ARCHIVED if archived else Project.Status.ACTIVE
        project.archived_at = timezone.now() if archived else None
        project.save(update_fields=["status", "archived_at"])
        record(action="project.archive" if archived else "project.unarchive", actor=actor, project=project, target=project)
    return project


def project_archive(*, actor, project: Project) -> Project:
    return _set_archived(actor=actor, project=project, archived=True)


def project_unarchive(*, actor, project: Project) -> Project:
    return _set_archived(actor=actor, project=project, archived=False)


def _check_role(role: str) -> None:
    if role not in PROJECT_ROLES:
        raise ValidationError({"role": f"Unknown project role “{role}”. Choose one of: {', '.join(PROJECT_ROLES)}."})


def project_member_add(*, actor, project: Project, user, role: str) -> ProjectMembership:
    require(actor, Action.MEMBERS_MANAGE, project)
    _check_role(role)
    if user is None or not StudioMembership.objects.filter(studio_id=project.studio_id, user=user).exists():
        raise ValidationError({"user": "Only members of the studio can join its projects. Invite them to the studio first."})
    if ProjectMembership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"user": f"{user.email} is already on this project."})
    with transaction.atomic():
        membership = ProjectMembership(project=project, user=user, role=role)
        membership.full_clean()
        membership.save()
        record(
            action="project_membership.add",
            actor=actor,
            project=project,
            target=membership,
            details={"user": user.email, "role": role},
        )
    return membership


def _guard_self_demotion(actor, membership: ProjectMembership) -> None:
    # A producer cannot drop their own producer role: another producer or a studio admin must,
    # so a project is never left without someone who can approve plates by accident.
    if actor is not None and membership.user_id == actor.pk and membership.role == ProjectMembership.Role.PRODUCER:
        raise ValidationError("You cannot remove your own producer role. Ask another producer or a studio admin.")


def project_member_set_role(*, actor, membership: ProjectMembership, role: str) -> ProjectMembership:
    require(actor, Action.MEMBERS_MANAGE, membership.project)
    _check_role(role)
    with transaction.atomic():
        membership = ProjectMembership.objects.select_for_update().select_related("project__studio", "user").get(pk=membership.pk)
        if membership.role == role:
            return membership
        _guard_self_demotion(actor, membership)
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            action="project_membership.role_change",
            actor=actor,
            project=membership.project,
            target=membership,
            details={"user": membership.user.email, "from": old, "to": role},
        )
    return membership


def project_member_remove(*, actor, membership: ProjectMembership) -> None:
    require(actor, Action.MEMBERS_MANAGE, membership.project)
    with transaction.atomic():
        membership = ProjectMembership.objects.select_for_update().select_related("project__studio", "user").get(pk=membership.pk)
        _guard_self_demotion(actor, membership)
        record(
            action="project_membership.remove",
            actor=actor,
            project=membership.project,
            target=membership,
            details={"user": membership.user.email, "role": membership.role},
        )
        membership.delete()
        access_changed_on_commit([membership.project_id])
