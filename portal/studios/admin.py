"""Platform staff onboard studios here. Writes go through the same services as the portal, so
the audit log records them. Project content is deliberately not registered."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from portal.studios import services
from portal.studios.models import Invitation, Studio, StudioMembership


class InviteAdminForm(forms.Form):
    email = forms.EmailField(label="Email of the studio admin")


class MembershipInline(admin.TabularInline):
    model = StudioMembership
    extra = 0
    can_delete = False
    fields = ("user", "role", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Studio)
class StudioAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "status", "allow_external_ai", "require_two_factor", "storage_quota_bytes", "created_at")
    list_filter = ("status", "allow_external_ai")
    search_fields = ("name", "slug")
    inlines = [MembershipInline]
    actions = ["suspend", "activate"]
    change_form_template = "admin/studios/studio/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # Studio policies (AI, 2FA, retention) belong to the studio's own admins.
        base = ("allow_external_ai", "require_two_factor", "retention_days", "created_at")
        return base + ("slug",) if obj else base

    def save_model(self, request, obj, form, change):
        try:
            if change:
                changes = {f: form.cleaned_data[f] for f in form.changed_data if f in services.STAFF_FIELDS}
                if changes:
                    services.studio_update(actor=request.user, studio=obj, **changes)
            else:
                created = services.studio_create(
                    actor=request.user, name=obj.name, slug=obj.slug, storage_quota_bytes=obj.storage_quota_bytes
                )
                obj.pk = created.pk
                obj.refresh_from_db()
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))

    def delete_model(self, request, obj):
        messages.error(request, "Studios are suspended, not deleted (their audit log must stay).")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Suspend selected studios (members lose access at once)")
    def suspend(self, request, queryset):
        for studio in queryset:
            services.studio_suspend(actor=request.user, studio=studio)
        self.message_user(request, f"{queryset.count()} studio(s) suspended.")

    @admin.action(description="Activate selected studios")
    def activate(self, request, queryset):
        for studio in queryset:
            services.studio_activate(actor=request.user, studio=studio)
        self.message_user(request, f"{queryset.count()} studio(s) activated.")

    def get_urls(self):
        return [
            path(
                "<int:studio_id>/invite-admin/", self.admin_site.admin_view(self.invite_admin), name="studios_studio_invite_admin"
            )
        ] + super().get_urls()

    def invite_admin(self, request, studio_id: int):
        studio = get_object_or_404(Studio, pk=studio_id)
        form = InviteAdminForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.invitation_send(
                    actor=request.user,
                    studio=studio,
                    email=form.cleaned_data["email"],
                    studio_role=StudioMembership.Role.STUDIO_ADMIN,
                    as_platform_staff=True,
                )
            except ValidationError as exc:
                form.add_error("email", " ".join(exc.messages))
            else:
                self.message_user(request, f"Invitation sent to {form.cleaned_data['email']}.")
                return redirect(reverse("admin:studios_studio_change", args=[studio.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "studio": studio,
            "opts": self.model._meta,
            "title": f"Invite a studio admin to {studio.name}",
        }
        return render(request, "admin/studios/studio/invite_admin.html", context)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "studio", "studio_role", "state_label", "send_count", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("studio",)
    search_fields = ("email",)
    actions = ["resend", "revoke"]
    readonly_fields = [f.name for f in Invitation._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)

    @admin.display(description="state")
    def state_label(self, obj):
        return obj.get_state_display()

    def has_add_permission(self, request):
        return False  # use "Invite a studio admin" on the studio page

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Resend selected invitations (new link, new expiry)")
    def resend(self, request, queryset):
        for invitation in queryset:
            try:
                services.invitation_resend(actor=request.user, invitation=invitation)
            except ValidationError as exc:
                self.message_user(request, f"{invitation.email}: {' '.join(exc.messages)}", level=messages.ERROR)

    @admin.action(description="Revoke selected invitations")
    def revoke(self, request, queryset):
        for invitation in queryset:
            try:
                services.invitation_revoke(actor=request.user, invitation=invitation)
            except ValidationError as exc:
                self.message_user(request, f"{invitation.email}: {' '.join(exc.messages)}", level=messages.ERROR)
