from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from portal.accounts.api import ApiTokenViewSet, MeView
from portal.characters.api import CharacterReferenceViewSet, CharacterViewSet
from portal.core.views import api_not_found
from portal.footage.api import AssetViewSet, VersionViewSet
from portal.footage.tus import UploadCreateView, UploadView
from portal.projects.api import ProjectMemberViewSet, ProjectViewSet
from portal.providers.api import ProviderViewSet, ToolDefaultViewSet
from portal.review.api import DecisionViewSet, NoteViewSet, NotificationViewSet
from portal.studios.api import AuditEventViewSet, InvitationViewSet, StudioMemberViewSet, StudioViewSet
from portal.toolruns.api import ToolRunViewSet, ToolViewSet
from portal.toolruns.set_api import ToolRunSetViewSet
from portal.webhooks.api import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("studios", StudioViewSet, basename="studio")
router.register(r"studios/(?P<studio_pk>[0-9]+)/members", StudioMemberViewSet, basename="studio-member")
router.register(r"studios/(?P<studio_pk>[0-9]+)/invitations", InvitationViewSet, basename="studio-invitation")
router.register(r"studios/(?P<studio_pk>[0-9]+)/audit-events", AuditEventViewSet, basename="studio-audit-event")
router.register(r"studios/(?P<studio_pk>[0-9]+)/ai-providers", ProviderViewSet, basename="studio-ai-provider")
router.register(r"studios/(?P<studio_pk>[0-9]+)/ai-tool-defaults", ToolDefaultViewSet, basename="studio-ai-tool-default")
router.register("projects", ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_pk>[0-9]+)/members", ProjectMemberViewSet, basename="project-member")
router.register(r"projects/(?P<project_pk>[0-9]+)/assets", AssetViewSet, basename="project-asset")
router.register(r"projects/(?P<project_pk>[0-9]+)/versions", VersionViewSet, basename="project-version")
router.register(r"projects/(?P<project_pk>[0-9]+)/toolruns", ToolRunViewSet, basename="project-toolrun")
router.register(r"projects/(?P<project_pk>[0-9]+)/tools", ToolViewSet, basename="project-tool")
router.register(r"projects/(?P<project_pk>[0-9]+)/toolruns/(?P<run_pk>[0-9]+)/set", ToolRunSetViewSet, basename="toolrun-set")
router.register(r"projects/(?P<project_pk>[0-9]+)/characters", CharacterViewSet, basename="project-character")
router.register(
    r"projects/(?P<project_pk>[0-9]+)/characters/(?P<character_pk>[0-9]+)/references",
    CharacterReferenceViewSet,
    basename="character-reference",
)
router.register(r"projects/(?P<project_pk>[0-9]+)/versions/(?P<version_pk>[0-9]+)/notes", NoteViewSet, basename="version-note")
router.register(
    r"projects/(?P<project_pk>[0-9]+)/versions/(?P<version_pk>[0-9]+)/decisions", DecisionViewSet, basename="version-decision"
)
router.register(r"projects/(?P<project_pk>[0-9]+)/webhooks", WebhookEndpointViewSet, basename="project-webhook")
router.register(
    r"projects/(?P<project_pk>[0-9]+)/webhooks/(?P<webhook_pk>[0-9]+)/deliveries",
    WebhookDeliveryViewSet,
    basename="webhook-delivery",
)
router.register("notifications", NotificationViewSet, basename="notification")
router.register("tokens", ApiTokenViewSet, basename="token")

app_name = "api"
urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    # tus 1.0.0 resumable uploads
    path("projects/<int:project_pk>/uploads/", UploadCreateView.as_view(), name="tus-create"),
    path("uploads/<uuid:upload_id>/", UploadView.as_view(), name="tus-upload"),
    path("", include(router.urls)),
    # Last: whatever else ends in a slash (newlines in it too) is an unknown endpoint, answered in JSON like the rest.
    re_path(r"^[\s\S]*/$", api_not_found, name="not-found"),
]
