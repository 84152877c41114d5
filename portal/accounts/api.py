from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import selectors, services
from portal.accounts.models import ApiToken
from portal.core.api import StrictSerializer
from portal.projects.selectors import projects_for_user
from portal.studios.models import StudioMembership


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    studios = serializers.ListField(child=serializers.DictField())
    projects = serializers.ListField(child=serializers.DictField())


class MeView(APIView):
    """Who am I, and where do I belong."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        studios = [
            {"id": m.studio_id, "slug": m.studio.slug, "name": m.studio.name, "status": m.studio.status, "role": m.role}
            for m in StudioMembership.objects.filter(user=user).select_related("studio")
        ]
        roles = dict(user.project_memberships.values_list("project_id", "role"))
        projects = [
            {"id": p.pk, "studio": p.studio_id, "code": p.code, "name": p.name, "role": roles.get(p.pk)}
            for p in projects_for_user(user)
        ]
        return Response(
            {"id": user.pk, "email": user.email, "full_name": user.full_name, "studios": studios, "projects": projects}
        )


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at", "expires_at"]
        read_only_fields = ["id", "hint", "created_at", "last_used_at", "expires_at"]


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, default=90)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; only its hash is kept.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ApiTokenSerializer.Meta.fields + ["token"]


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.api_tokens(self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        if isinstance(request.auth, ApiToken):
            # A token must not mint longer-lived tokens: only a signed-in (and 2FA-verified) person can.
            raise PermissionDenied("Create API tokens from a signed-in session, not with another token.")
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.api_token_create(user=request.user, **serializer.validated_data)
        data = ApiTokenSerializer(token).data
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        token = self.get_queryset().filter(pk=pk).first()
        if token is None:
            raise Http404("Not found")
        services.api_token_revoke(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
