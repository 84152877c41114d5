from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from portal.access.policy import DESCRIPTIONS, PROJECT_ROLES, ROLE_ACTIONS, SCOPE, Action, Roles, Scope, roles_of
from portal.access.views import ProjectScopedView
from portal.core.fasturls import reverse_with_id
from portal.core.pagination import section_page
from portal.footage.views import footage_context
from portal.projects import selectors, services
from portal.projects.models import ProjectMembership
from portal.studios.forms import ProjectMemberAddForm, ProjectRoleForm, ProjectSettingsForm

User = get_user_model()

MEMBERS_PER_PAGE = 20  # a side section of the project page (its assets come 10 to a page)


def _back(view):
    return redirect("projects:detail", studio=view.studio.slug, project=view.project.code)


@functools.lru_cache(maxsize=16)
def role_table_html(language: str) -> str:
    """The "who can do what" table: the same for every project and user, so rendered once a language
    (the policy's constants only; a deploy restarts the process)."""
    role_table = [
        (DESCRIPTIONS[a], [a in ROLE_ACTIONS[r] for r in PROJECT_ROLES])
        for a in Action
        if SCOPE[a] is Scope.PROJECT and a not in (Action.PROJECT_MANAGE, Action.WEBHOOKS_MANAGE)
    ]
    return mark_safe(render_to_string("projects/_role_table.html", {"role_table": role_table, "roles": PROJECT_ROLES}))  # noqa: S308 - our template's output


class ProjectDetailView(ProjectScopedView):
    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)
    policy_action = Action.PROJECT_VIEW

    def get(self, request, **kwargs):
        project = self.project
        candidates = selectors.studio_members_not_in_project(project) if Action.MEMBERS_MANAGE in self.actions else []
        members_page, members_query = section_page(
            selectors.project_members(project), request.GET, param="members_page", per_page=MEMBERS_PER_PAGE
        )
        members = list(members_page.object_list)
        where = {"studio": self.studio.slug, "project": project.code}
        for m in members:  # the row's form targets without a reverse() each
            m.role_url = reverse_with_id("projects:member_role", "membership_id", m.pk, **where)
            m.remove_url = reverse_with_id("projects:member_remove", "membership_id", m.pk, **where)
        return render(
            request,
            "projects/detail.html",
            self.get_context_data(
                members=members,
                members_page=members_page,
                members_query=members_query,
                my_role=(roles_of(request.user, project) or Roles(None, None)).project_role,
                add_form=ProjectMemberAddForm(candidates=candidates) if candidates else None,
                settings_form=ProjectSettingsForm(initial={"name": project.name, "frame_rate": project.frame_rate}),
                role_choices=ProjectRoleForm.base_fields["role"].choices,
                role_table_html=role_table_html(get_language()),
                character_count=project.characters.count(),
                **footage_context(project, self.actions, request.GET),
            ),
        )


class ProjectSettingsView(ProjectScopedView):
    policy_action = Action.PROJECT_MANAGE
    form_section = "settings"

    def post(self, request, **kwargs):
        operation = request.POST.get("operation", "update")
        try:
            if operation == "archive":
                services.project_archive(actor=request.user, project=self.project)
                messages.success(request, _("Project archived: it is read-only until restored."))
            elif operation == "unarchive":
                services.project_unarchive(actor=request.user, project=self.project)
                messages.success(request, _("Project restored."))
            else:
                form = ProjectSettingsForm(request.POST)
                if not form.is_valid():
                    messages.error(request, _("Give the project a name and a frame rate."))
                    return _back(self)
                services.project_update(actor=request.user, project=self.project, **form.cleaned_data)
                messages.success(request, _("Project saved."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return _back(self)


class ProjectMemberAddView(ProjectScopedView):
    policy_action = Action.MEMBERS_MANAGE

    def post(self, request, **kwargs):
        candidates = selectors.studio_members_not_in_project(self.project)
        form = ProjectMemberAddForm(request.POST, candidates=candidates)
        if not form.is_valid():
            messages.error(request, _("Choose a studio member and a role."))
            return _back(self)
        user = User.objects.filter(pk=form.cleaned_data["user"]).first()
        try:
            services.project_member_add(actor=request.user, project=self.project, user=user, role=form.cleaned_data["role"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            role_label = ProjectMembership.Role(form.cleaned_data["role"]).label
            messages.success(request, _("%(email)s added as %(role)s.") % {"email": user.email, "role": role_label})
        return _back(self)


class ProjectMemberRoleView(ProjectScopedView):
    policy_action = Action.MEMBERS_MANAGE

    def post(self, request, membership_id: int, **kwargs):
        membership = selectors.project_membership_get(self.project, membership_id)
        if membership is None:
            raise Http404("Not found")
        form = ProjectRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a project role."))
            return _back(self)
        try:
            services.project_member_set_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Role of %(email)s changed.") % {"email": membership.user.email})
        return _back(self)


class ProjectMemberRemoveView(ProjectScopedView):
    policy_action = Action.MEMBERS_MANAGE

    def post(self, request, membership_id: int, **kwargs):
        membership = selectors.project_membership_get(self.project, membership_id)
        if membership is None:
            raise Http404("Not found")
        try:
            services.project_member_remove(actor=request.user, membership=membership)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(email)s removed from the project.") % {"email": membership.user.email})
        return _back(self)
