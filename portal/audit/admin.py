from django.contrib import admin

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Platform staff see the platform chain only (onboarding, unknown-address sign-ins):
    a studio's own log is its business, shown to its studio admins in the portal."""

    list_display = ("created_at", "actor_email", "action", "target_repr", "ip")
    list_filter = ("action",)
    search_fields = ("actor_email", "action")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(studio__isnull=True)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
