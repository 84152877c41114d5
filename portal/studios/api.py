from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import STUDIO_PK, STUDIO_ROW
from portal.audit.selectors import audit_events
from portal.core import page_cache
from portal.core.api import StrictModelSerializer, StrictSerializer, takes_no_body
from portal.core.fastread import FastReadMixin
from portal.projects.models import Project, ProjectMembership
from portal.studios import selectors, services
from portal.studios.models import Invitation, Studio, StudioMembership


class StudioSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Studio
        fields = [
            "id",
            "name",
            "slug",
            "status",
            "storage_quota_bytes",
            "allow_external_ai",
            "retention_days",
            "require_two_factor",
            "created_at",
            "my_role",
        ]
        read_only_fields = fields

    def get_my_role(self, obj) -> str | None:
        if hasattr(obj, "my_role"):  # annotated by selectors.studios_for_user: no query per row
            return obj.my_role
        return selectors.studio_role_of(self.context["request"].user, obj)


class StudioSettingsSerializer(StrictSerializer):
    """What a studio admin may change. Anything else in the body is refused, not ignored."""

    require_two_factor = serializers.BooleanField(required=False)
    allow_external_ai = serializers.BooleanField(required=False)
    retention_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)


class StudioViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Studios the caller belongs to. Onboarding (create, suspend) is platform staff's, in the admin."""

    serializer_class = StudioSerializer
    queryset = Studio.objects.none()
    lookup_value_regex = "[0-9]+"
    # The row is the scope: /studios/<pk>/ is checked by the resolver, the list is the policy's answer.
    url_scope = STUDIO_ROW
    policy_actions = {"GET": Action.STUDIO_VIEW, "PATCH": Action.STUDIO_MANAGE}

    def scoped_queryset(self, scope):
        return selectors.studios_listed(self.request.user)

    def retrieve(self, request, pk=None):
        return Response(StudioSerializer(self.scope, context={"request": request}).data)

    @extend_schema(request=StudioSettingsSerializer, responses=StudioSerializer)
    def partial_update(self, request, pk=None):
        serializer = StudioSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        studio = services.studio_update(actor=request.user, studio=self.scope, **serializer.validated_data)
        return Response(StudioSerializer(studio, context={"request": request}).data)


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class StudioMemberSerializer(StrictModelSerializer):
    user = UserBriefSerializer(read_only=True)

    class Meta:
        model = StudioMembership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class StudioScoped(ScopedViewSet, abstract=True):
    lookup_value_regex = "[0-9]+"
    url_scope = STUDIO_PK


class StudioMemberViewSet(mixins.ListModelMixin, StudioScoped):
    serializer_class = StudioMemberSerializer
    queryset = StudioMembership.objects.none()  # for the schema; rows come from scoped_queryset
    policy_actions = {"GET": Action.STUDIO_VIEW, "PATCH": Action.STUDIO_MEMBERS_MANAGE, "DELETE": Action.STUDIO_MEMBERS_MANAGE}
    error_statuses = {"destroy": {400}}  # the last studio admin stays

    def scoped_queryset(self, scope):
        return StudioMembership.objects.filter(studio=scope).select_related("user").order_by("user__email")

    def partial_update(self, request, studio_pk=None, pk=None):
        membership = self.get_object()
        serializer = StudioMemberSerializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        membership = services.studio_membership_set_role(
            actor=request.user, membership=membership, role=serializer.validated_data.get("role", membership.role)
        )
        return Response(StudioMemberSerializer(membership).data)

    def destroy(self, request, studio_pk=None, pk=None):
        services.studio_membership_remove(actor=request.user, membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationSerializer(StrictModelSerializer):
    state = serializers.CharField(read_only=True)
    project = serializers.IntegerField(source="project_id", required=False, allow_null=True)
    project_role = serializers.ChoiceField(choices=ProjectMembership.Role.choices, required=False, allow_blank=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "studio_role",
            "project",
            "project_role",
            "state",
            "created_at",
            "sent_at",
            "send_count",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = ["id", "state", "created_at", "sent_at", "send_count", "expires_at", "accepted_at", "revoked_at"]
        extra_kwargs = {"email": {"validators": []}}


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("all", str, enum=["1"], description="1: also closed ones")]))
class InvitationViewSet(mixins.ListModelMixin, StudioScoped):
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()
    policy_actions = {"GET": Action.STUDIO_MEMBERS_MANAGE, "POST": Action.STUDIO_MEMBERS_MANAGE}

    def scoped_queryset(self, scope):
        return selectors.studio_invitations(scope, include_closed=self.request.query_params.get("all") == "1")

    def create(self, request, studio_pk=None):
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project = None
        if data.get("project_id"):
            # Another studio's project id is "not found", exactly like a made-up one.
            project = Project.objects.filter(pk=data["project_id"], studio=self.scope).first()
            if project is None:
                raise Http404("Not found")
        invitation, _raw = services.invitation_send(
            actor=request.user,
            studio=self.scope,
            email=data["email"],
            studio_role=data.get("studio_role", StudioMembership.Role.MEMBER),
            project=project,
            project_role=data.get("project_role", ""),
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def resend(self, request, studio_pk=None, pk=None):
        invitation, _raw = services.invitation_resend(actor=request.user, invitation=self.get_object())
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def revoke(self, request, studio_pk=None, pk=None):
        invitation = services.invitation_revoke(actor=request.user, invitation=self.get_object())
        return Response(InvitationSerializer(invitation).data)


class AuditEventSerializer(FastReadMixin, serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor_email = serializers.CharField()
    action = serializers.CharField()
    project = serializers.IntegerField(source="project_id", allow_null=True)
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_repr = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    details = serializers.JSONField()
    seq = serializers.IntegerField()
    hash = serializers.CharField()


@extend_schema(
    parameters=[
        OpenApiParameter("actor", str, description="email contains"),
        OpenApiParameter("action", str, description="action starts with, e.g. invitation."),
        OpenApiParameter("project", int),
        OpenApiParameter("date_from", str, description="YYYY-MM-DD"),
        OpenApiParameter("date_to", str, description="YYYY-MM-DD"),
    ]
)
class AuditEventViewSet(page_cache.SharedListMixin, mixins.ListModelMixin, StudioScoped):
    # the list is the same for everyone allowed to see it (checked first): kept once for all of them
    page_cache_actions = ("list",)  # kept per person until a table it read changes (portal/core/page_cache.py)

    serializer_class = AuditEventSerializer
    policy_actions = {"GET": Action.AUDIT_VIEW}

    def scoped_queryset(self, scope):
        params = self.request.query_params
        date_field = serializers.DateField(required=False, allow_null=True)
        try:
            date_from = date_field.to_internal_value(params["date_from"]) if params.get("date_from") else None
            date_to = date_field.to_internal_value(params["date_to"]) if params.get("date_to") else None
            project_id = int(params["project"]) if params.get("project") else None
        except (ValueError, serializers.ValidationError):
            raise serializers.ValidationError({"detail": "Dates are YYYY-MM-DD and project is a number."}) from None
        return audit_events(
            scope,
            actor=params.get("actor", ""),
            action=params.get("action", ""),
            project_id=project_id,
            date_from=date_from,
            date_to=date_to,
        )
