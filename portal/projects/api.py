from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK, PROJECT_ROW, STUDIO_ROW
from portal.core.api import StrictModelSerializer, StrictSerializer, takes_no_body
from portal.projects import selectors, services
from portal.projects.models import FRAME_RATES, Project, ProjectMembership
from portal.studios.api import UserBriefSerializer

User = get_user_model()


class ProjectSerializer(serializers.ModelSerializer):
    studio = serializers.IntegerField(source="studio_id", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "studio", "code", "name", "frame_rate", "status", "created_at", "archived_at"]
        read_only_fields = fields


class ProjectCreateSerializer(StrictSerializer):
    studio = serializers.IntegerField()
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=150)
    frame_rate = serializers.ChoiceField(choices=FRAME_RATES, default="24/1")


class ProjectUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=150, required=False)
    frame_rate = serializers.ChoiceField(choices=FRAME_RATES, required=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("studio", {"type": "integer", "minimum": 1}, description="only this studio's projects")]
    )
)
class ProjectViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Projects the caller may open, across their studios (filter with ?studio=ID)."""

    lookup_value_regex = "[0-9]+"
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()
    error_statuses = {"create": {404}}  # the studio named in the body: unknown or not the caller's
    # The row is the scope: /projects/<pk>/ is checked by the resolver; the list is the policy's
    # "which rows?" for project.view; a POST names its studio in the body (checked for project.create).
    url_scope = PROJECT_ROW
    policy_actions = {"GET": Action.PROJECT_VIEW, "PATCH": Action.PROJECT_MANAGE, "POST": Action.PROJECT_CREATE}
    policy_actions_by_view_action = {"archive": Action.PROJECT_MANAGE, "unarchive": Action.PROJECT_MANAGE}

    def collection_scope(self):
        if self.request.method != "POST":
            return None
        serializer = ProjectCreateSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return STUDIO_ROW.find({"pk": serializer.validated_data["studio"]})

    def scoped_queryset(self, scope):
        qs = selectors.projects_listed()
        studio = self.request.query_params.get("studio")
        if studio:
            if not studio.isdigit():
                raise serializers.ValidationError({"studio": "A studio id is a number."})
            qs = qs.filter(studio_id=int(studio))
        return qs

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request):
        serializer = ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project = services.project_create(
            actor=request.user, studio=self.scope, code=data["code"], name=data["name"], frame_rate=data["frame_rate"]
        )
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(ProjectSerializer(self.scope).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def partial_update(self, request, pk=None):
        serializer = ProjectUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_update(actor=request.user, project=self.scope, **serializer.validated_data)
        return Response(ProjectSerializer(project).data)

    @extend_schema(request=None, responses=ProjectSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def archive(self, request, pk=None):
        return Response(ProjectSerializer(services.project_archive(actor=request.user, project=self.scope)).data)

    @extend_schema(request=None, responses=ProjectSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def unarchive(self, request, pk=None):
        return Response(ProjectSerializer(services.project_unarchive(actor=request.user, project=self.scope)).data)


class ProjectMemberSerializer(StrictModelSerializer):
    user = UserBriefSerializer(read_only=True)
    user_id = serializers.IntegerField(write_only=True, required=False)
    email = serializers.EmailField(write_only=True, required=False)
    role = serializers.ChoiceField(choices=ProjectMembership.Role.choices)

    class Meta:
        model = ProjectMembership
        fields = ["id", "user", "user_id", "email", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class ProjectMemberViewSet(mixins.ListModelMixin, ScopedViewSet):
    serializer_class = ProjectMemberSerializer
    queryset = ProjectMembership.objects.none()  # for the schema; rows come from scoped_queryset
    lookup_value_regex = "[0-9]+"
    policy_actions = {
        "GET": Action.PROJECT_VIEW,
        "POST": Action.MEMBERS_MANAGE,
        "PATCH": Action.MEMBERS_MANAGE,
        "DELETE": Action.MEMBERS_MANAGE,
    }

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        return selectors.project_members(scope)

    def create(self, request, project_pk=None):
        serializer = ProjectMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("user_id"):
            user = User.objects.filter(pk=data["user_id"]).first()
        elif data.get("email"):
            user = User.objects.filter(email__iexact=data["email"]).first()
        else:
            raise serializers.ValidationError({"user_id": "Give user_id or email of a studio member."})
        membership = services.project_member_add(actor=request.user, project=self.scope, user=user, role=data["role"])
        return Response(ProjectMemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, project_pk=None, pk=None):
        membership = self.get_object()
        serializer = ProjectMemberSerializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        membership = services.project_member_set_role(
            actor=request.user, membership=membership, role=serializer.validated_data.get("role", membership.role)
        )
        return Response(ProjectMemberSerializer(membership).data)

    def destroy(self, request, project_pk=None, pk=None):
        services.project_member_remove(actor=request.user, membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
