from __future__ import annotations

import csv
import functools

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views import View

from portal.access.policy import DESCRIPTIONS, ROLE_ACTIONS, SCOPE, STUDIO_ADMIN, STUDIO_MEMBER, Action, Scope
from portal.access.views import StudioScopedView
from portal.audit.selectors import audit_action_names, audit_events
from portal.audit.services import audit_export_log
from portal.core.fasturls import reverse_with_id
from portal.core.pagination import section_page
from portal.projects import services as project_services
from portal.studios import selectors, services
from portal.studios.forms import AuditFilterForm, InvitationForm, ProjectForm, StudioRoleForm, StudioSettingsForm
from portal.studios.services import InvitationUnusable

User = get_user_model()


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# The role table's cell for a project action and the studio role "member": it depends on the project role.
BY_PROJECT_ROLE = "by project role"


@functools.lru_cache(maxsize=16)
def role_table_html(language: str) -> str:
    """The studio's "who can do what" table: the same for every studio and user, so rendered once a
    language (the policy's constants only; a deploy restarts the process)."""
    role_table = [
        # Inside a project a member may do what their project role allows (a director opens the
        # workspace): the studio role alone says nothing there, so the cell says so, not "no".
        (
            DESCRIPTIONS[a],
            a in ROLE_ACTIONS[STUDIO_ADMIN],
            BY_PROJECT_ROLE if SCOPE[a] is Scope.PROJECT else a in ROLE_ACTIONS[STUDIO_MEMBER],
        )
        for a in Action
        if a in ROLE_ACTIONS[STUDIO_ADMIN]
    ]
    return mark_safe(render_to_string("studios/_role_table.html", {"role_table": role_table}))  # noqa: S308 - our template's output


class DashboardView(StudioScopedView):
    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)
    policy_action = Action.STUDIO_VIEW
    template_name = "studios/dashboard.html"
    per_page = 20  # projects, members and invitations: each section pages on its own

    def get(self, request, **kwargs):
        studio = self.studio
        projects = selectors.visible_projects(request.user, studio)
        # Every list of the dashboard grows: each has its own page parameter, kept by the others' pagers.
        project_page, project_query = section_page(projects, request.GET, param="projects_page", per_page=self.per_page)
        member_page, member_query = section_page(
            selectors.studio_members(studio), request.GET, param="members_page", per_page=self.per_page
        )
        members = list(member_page.object_list)
        for m in members:  # the row's form targets without a reverse() each
            m.role_url = reverse_with_id("studios:member_role", "membership_id", m.pk, studio=studio.slug)
            m.remove_url = reverse_with_id("studios:member_remove", "membership_id", m.pk, studio=studio.slug)
        context = self.get_context_data(
            projects=project_page.object_list,
            project_page=project_page,
            project_query=project_query,
            members=members,
            member_page=member_page,
            member_query=member_query,
            invitation_form=InvitationForm(projects=projects.filter(status="active")),
            project_form=ProjectForm(),
            settings_form=StudioSettingsForm(
                initial={
                    "require_two_factor": studio.require_two_factor,
                    "allow_external_ai": studio.allow_external_ai,
                    "retention_days": studio.retention_days,
                }
            ),
            role_choices=StudioRoleForm.base_fields["role"].choices,
            role_table_html=role_table_html(get_language()),
        )
        if Action.STUDIO_MEMBERS_MANAGE in self.actions:
            invitation_page, invitation_query = section_page(
                selectors.studio_invitations(studio), request.GET, param="invitations_page", per_page=self.per_page
            )
            invitations = list(invitation_page.object_list)
            for inv in invitations:
                inv.resend_url = reverse_with_id("studios:invitation_resend", "invitation_id", inv.pk, studio=studio.slug)
                inv.revoke_url = reverse_with_id("studios:invitation_revoke", "invitation_id", inv.pk, studio=studio.slug)
            context.update(invitations=invitations, invitation_page=invitation_page, invitation_query=invitation_query)
        return render(request, self.template_name, context)


class StudioSettingsView(StudioScopedView):
    policy_action = Action.STUDIO_MANAGE
    form_section = "settings"

    def post(self, request, **kwargs):
        form = StudioSettingsForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Check the studio settings: retention is a number of days from 1 to 3650."))
        else:
            services.studio_update(actor=request.user, studio=self.studio, **form.cleaned_data)
            messages.success(request, _("Studio settings saved."))
        return redirect("studios:dashboard", studio=self.studio.slug)


class InvitationCreateView(StudioScopedView):
    policy_action = Action.STUDIO_MEMBERS_MANAGE

    def post(self, request, **kwargs):
        projects = selectors.visible_projects(request.user, self.studio).filter(status="active")
        form = InvitationForm(request.POST, projects=projects)
        if not form.is_valid():
            messages.error(request, _("Enter a valid email address and roles."))
            return redirect("studios:dashboard", studio=self.studio.slug)
        data = form.cleaned_data
        project = projects.filter(pk=data["project"]).first() if data.get("project") else None
        try:
            services.invitation_send(
                actor=request.user,
                studio=self.studio,
                email=data["email"],
                studio_role=data["studio_role"],
                project=project,
                project_role=data.get("project_role") or "",
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": data["email"]})
        return redirect("studios:dashboard", studio=self.studio.slug)


class InvitationActionView(StudioScopedView):
    policy_action = Action.STUDIO_MEMBERS_MANAGE
    operation = "resend"

    def post(self, request, invitation_id: int, **kwargs):
        invitation = selectors.studio_invitation_get(self.studio, invitation_id)
        if invitation is None:
            raise Http404("Not found")
        try:
            if self.operation == "resend":
                services.invitation_resend(actor=request.user, invitation=invitation)
                messages.success(
                    request,
                    _("Invitation sent again to %(email)s; the earlier link no longer works.") % {"email": invitation.email},
                )
            else:
                services.invitation_revoke(actor=request.user, invitation=invitation)
                messages.success(request, _("Invitation for %(email)s revoked.") % {"email": invitation.email})
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("studios:dashboard", studio=self.studio.slug)


class MemberRoleView(StudioScopedView):
    policy_action = Action.STUDIO_MEMBERS_MANAGE

    def post(self, request, membership_id: int, **kwargs):
        membership = selectors.studio_membership_get(self.studio, membership_id)
        if membership is None:
            raise Http404("Not found")
        form = StudioRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a studio role."))
        else:
            try:
                services.studio_membership_set_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
            except ValidationError as exc:
                messages.error(request, _errors(exc))
            else:
                messages.success(request, _("Role of %(email)s changed.") % {"email": membership.user.email})
        return redirect("studios:dashboard", studio=self.studio.slug)


class MemberRemoveView(StudioScopedView):
    policy_action = Action.STUDIO_MEMBERS_MANAGE

    def post(self, request, membership_id: int, **kwargs):
        membership = selectors.studio_membership_get(self.studio, membership_id)
        if membership is None:
            raise Http404("Not found")
        try:
            services.studio_membership_remove(actor=request.user, membership=membership)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(
                request, _("%(email)s was removed from the studio and its projects.") % {"email": membership.user.email}
            )
        return redirect("studios:dashboard", studio=self.studio.slug)


class ProjectCreateView(StudioScopedView):
    policy_action = Action.PROJECT_CREATE

    def get(self, request, **kwargs):
        return render(request, "projects/project_form.html", self.get_context_data(form=ProjectForm()))

    def post(self, request, **kwargs):
        form = ProjectForm(request.POST)
        if form.is_valid():
            try:
                project = project_services.project_create(actor=request.user, studio=self.studio, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Project %(code)s created.") % {"code": project.code})
                return redirect("projects:detail", studio=self.studio.slug, project=project.code)
        return render(request, "projects/project_form.html", self.get_context_data(form=form), status=400)


class AuditView(StudioScopedView):
    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)
    policy_action = Action.AUDIT_VIEW
    page_size = 50

    def _filtered(self, request):
        projects = list(self.studio.projects.order_by("code"))
        form = AuditFilterForm(request.GET or None, projects=projects)
        filters = {}
        if form.is_valid():
            data = form.cleaned_data
            filters = {
                "actor": data.get("actor") or "",
                "action": data.get("action") or "",
                "project_id": data.get("project") or None,
                "date_from": data.get("date_from"),
                "date_to": data.get("date_to"),
            }
        return form, audit_events(self.studio, **filters)

    def get(self, request, **kwargs):
        form, events = self._filtered(request)
        page = Paginator(events, self.page_size).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "audit/audit.html",
            self.get_context_data(form=form, page=page, action_names=audit_action_names(self.studio), query=query.urlencode()),
        )


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    # Spreadsheet formula injection: a cell starting with = + - @ is data, not a formula.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class AuditExportView(AuditView):
    def get(self, request, **kwargs):
        _form, events = self._filtered(request)
        audit_export_log(actor=request.user, studio=self.studio, filters=request.GET.dict())
        writer = csv.writer(_Echo())
        header = [
            "time_utc",
            "actor",
            "action",
            "project",
            "target_type",
            "target_id",
            "target",
            "ip",
            "user_agent",
            "details",
            "seq",
            "hash",
        ]

        def rows():
            yield writer.writerow(header)
            for e in events.iterator(chunk_size=1000):
                yield writer.writerow(
                    [
                        _csv_cell(x)
                        for x in (
                            e.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            e.actor_email,
                            e.action,
                            e.project.code if e.project_id else "",
                            e.target_type,
                            e.target_id,
                            e.target_repr,
                            e.ip or "",
                            e.user_agent,
                            e.details,
                            e.seq,
                            e.hash,
                        )
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{self.studio.slug}.csv"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


INVITATION_PAGES = {
    "invalid": gettext_noop("This invitation link is not valid. Check that you copied the whole link from the email."),
    "expired": gettext_noop("This invitation has expired. Ask the person who invited you to send a new one."),
    "accepted": gettext_noop("This invitation was already used. Sign in with the account it created."),
    "revoked": gettext_noop("This invitation was withdrawn. Ask the studio admin if you think this is a mistake."),
    "suspended": gettext_noop("This studio is suspended on the portal at the moment."),
    "wrong_account": gettext_noop("This invitation is for another email address. Sign out and open the link again."),
}


class InvitationAcceptView(View):
    """Public: opened from the emailed link. No policy action: the token itself is the key."""

    def _unusable(self, request, exc: InvitationUnusable):
        if exc.reason == "wrong_account" and exc.invitation is not None:
            services.invitation_refusal_record(invitation=exc.invitation, user=request.user, reason=exc.reason)
        message = _(INVITATION_PAGES.get(exc.reason, INVITATION_PAGES["invalid"]))
        status = 404 if exc.reason == "invalid" else 410
        if exc.reason == "wrong_account":
            status = 403
        return render(request, "studios/invitation_unusable.html", {"message": message, "reason": exc.reason}, status=status)

    def get(self, request, token: str):
        from portal.accounts.forms import AcceptInvitationForm

        try:
            invitation = services.invitation_check(token)
        except InvitationUnusable as exc:
            return self._unusable(request, exc)
        existing = User.objects.filter(email__iexact=invitation.email).exists()
        return render(
            request,
            "studios/invitation_accept.html",
            {"invitation": invitation, "existing": existing, "form": AcceptInvitationForm(), "token": token},
        )

    def post(self, request, token: str):
        from django.contrib.auth import login

        from portal.accounts.forms import AcceptInvitationForm

        form = AcceptInvitationForm(request.POST)
        try:
            invitation = services.invitation_check(token)
        except InvitationUnusable as exc:
            return self._unusable(request, exc)
        existing = User.objects.filter(email__iexact=invitation.email).exists()
        try:
            if existing:
                member = services.invitation_accept(raw_token=token, user=request.user)
            else:
                if not form.is_valid():
                    raise ValidationError("")
                member = services.invitation_accept(
                    raw_token=token,
                    user=request.user,
                    password=form.cleaned_data["password1"],
                    full_name=form.cleaned_data["full_name"],
                )
                login(request, member, backend="django.contrib.auth.backends.ModelBackend")
        except InvitationUnusable as exc:
            if exc.reason == "sign_in_required":
                messages.info(request, _("Sign in as %(email)s to accept the invitation.") % {"email": invitation.email})
                return redirect(f"{_login_url()}?next={request.path}")
            return self._unusable(request, exc)
        except ValidationError as exc:
            for message in exc.messages:
                if message:
                    form.add_error("password1", message)
            return render(
                request,
                "studios/invitation_accept.html",
                {"invitation": invitation, "existing": existing, "form": form, "token": token},
                status=400,
            )
        messages.success(request, _("Welcome to %(studio)s.") % {"studio": invitation.studio.name})
        return redirect("studios:dashboard", studio=invitation.studio.slug) if member else redirect("home")


def _login_url():
    from django.urls import reverse

    return reverse("accounts:login")
