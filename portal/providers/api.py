"""API: the model providers a studio may allow (with their promises), allowing one, and tool defaults.

GET  /api/v1/studios/{id}/ai-providers/                  configured providers, each with "allowed" and its promises
POST /api/v1/studios/{id}/ai-providers/{provider}/allow/ {"allowed": true|false}
GET  /api/v1/studios/{id}/ai-tool-defaults/              [{"tool", "provider", "model"}]
POST /api/v1/studios/{id}/ai-tool-defaults/              {"tool", "provider" ("" clears), "model" (optional)}
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.policy import Action
from portal.core.api import StrictSerializer
from portal.providers import selectors, services
from portal.providers.models import AllowedProvider, ToolProviderDefault
from portal.studios.api import StudioScoped


class PromisesSerializer(serializers.Serializer):
    retention = serializers.CharField()
    training = serializers.CharField()
    region = serializers.CharField()
    text = serializers.CharField()
    link = serializers.CharField()


class ProviderSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    label = serializers.CharField()
    region = serializers.CharField()
    models = serializers.ListField(child=serializers.CharField())
    default_model = serializers.CharField(allow_null=True)
    promises = PromisesSerializer()
    allowed = serializers.BooleanField()
    allowed_at = serializers.DateTimeField(allow_null=True)
    allowed_by = serializers.CharField(allow_null=True)


class AllowSerializer(StrictSerializer):
    allowed = serializers.BooleanField()


class ToolDefaultSerializer(StrictSerializer):
    tool = serializers.CharField(max_length=64)
    provider = serializers.CharField(max_length=40, allow_blank=True)
    model = serializers.CharField(max_length=80, allow_blank=True, required=False, default="")


class ProviderViewSet(StudioScoped):
    serializer_class = ProviderSerializer
    lookup_value_regex = "[a-z0-9][a-z0-9-]{0,39}"
    policy_actions = {"GET": Action.STUDIO_VIEW, "POST": Action.STUDIO_MANAGE}
    queryset = AllowedProvider.objects.none()  # for the schema; rows come from the configuration

    def scoped_queryset(self, scope):
        return AllowedProvider.objects.filter(studio=scope)

    def list(self, request, studio_pk=None):
        return Response(ProviderSerializer(selectors.studio_providers(self.scope), many=True).data)

    @extend_schema(request=AllowSerializer, responses=ProviderSerializer)
    @action(detail=True, methods=["post"])
    def allow(self, request, studio_pk=None, pk=None):
        body = AllowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.studio_provider_set_allowed(
            actor=request.user, studio=self.scope, provider=pk, allowed=body.validated_data["allowed"]
        )
        row = next(r for r in selectors.studio_providers(self.scope) if r["id"] == pk)
        return Response(ProviderSerializer(row).data)


class ToolDefaultViewSet(StudioScoped):
    serializer_class = ToolDefaultSerializer
    queryset = ToolProviderDefault.objects.none()
    policy_actions = {"GET": Action.STUDIO_VIEW, "POST": Action.STUDIO_MANAGE}

    def scoped_queryset(self, scope):
        return ToolProviderDefault.objects.filter(studio=scope)

    def list(self, request, studio_pk=None):
        rows = [{"tool": d.tool, "provider": d.provider, "model": d.model} for d in self.get_queryset()]
        return Response(ToolDefaultSerializer(rows, many=True).data)

    def create(self, request, studio_pk=None):
        body = ToolDefaultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.studio_tool_default_set(
            actor=request.user, studio=self.scope, tool=data["tool"], provider=data["provider"], model=data.get("model", "")
        )
        return Response(dict(data), status=status.HTTP_201_CREATED if data["provider"] else status.HTTP_200_OK)
