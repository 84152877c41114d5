"""REST API for webhooks: the same services as the page. Studio admins only (webhooks.manage);
another studio's project, endpoint or delivery answers 404. The signing secret is in the answer to
create and rotate-secret only."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.core.api import StrictSerializer, takes_no_body
from portal.webhooks import selectors, services
from portal.webhooks.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint


class EndpointSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)
    previous_secret_valid_until = serializers.DateTimeField(source="previous_secret_expires_at", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "project",
            "url",
            "description",
            "events",
            "is_active",
            "secret_hint",
            "secret_rotated_at",
            "previous_secret_valid_until",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown in this answer only, never again.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointCreateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), min_length=1)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True, default="")


class EndpointUpdateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), min_length=1, required=False)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class RotateSerializer(StrictSerializer):
    grace_hours = serializers.IntegerField(required=False, min_value=0, help_text="How long the old secret keeps signing too.")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_excerpt"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)
    payload = serializers.JSONField(source="body_json", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "state",
            "attempts",
            "next_attempt_at",
            "retry_until",
            "last_status_code",
            "last_error",
            "created_at",
            "finished_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields


_POLICY = {
    "GET": Action.WEBHOOKS_MANAGE,
    "POST": Action.WEBHOOKS_MANAGE,
    "PATCH": Action.WEBHOOKS_MANAGE,
    "DELETE": Action.WEBHOOKS_MANAGE,
}


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    endpoint.secret = secret
    return EndpointWithSecretSerializer(endpoint).data


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The project's webhook endpoints. POST registers one (the answer holds its signing secret, once);
    `rotate-secret` makes a new secret (the old one keeps signing for `grace_hours`); `test` sends a
    webhook.test event. Deliveries are signed: see docs/webhooks.md."""

    serializer_class = EndpointSerializer
    queryset = WebhookEndpoint.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = _POLICY

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        return selectors.endpoints_for_project(scope)

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointWithSecretSerializer})
    def create(self, request, project_pk=None):
        serializer = EndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(actor=request.user, project=self.scope, **serializer.validated_data)
        return Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer)
    def partial_update(self, request, project_pk=None, pk=None):
        endpoint = self.get_object()
        serializer = EndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(actor=request.user, endpoint=endpoint, **serializer.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    def destroy(self, request, project_pk=None, pk=None):
        services.endpoint_delete(actor=request.user, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RotateSerializer, responses=EndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, project_pk=None, pk=None):
        serializer = RotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_rotate_secret(
            actor=request.user, endpoint=self.get_object(), grace_hours=serializer.validated_data.get("grace_hours")
        )
        return Response(_with_secret(endpoint, secret))

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    @takes_no_body
    def test(self, request, project_pk=None, pk=None):
        delivery = services.endpoint_send_test(actor=request.user, endpoint=self.get_object())
        return Response(DeliverySerializer(selectors.delivery_get(self.scope, delivery.pk)).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The delivery log of one endpoint, newest first: each event sent, its state and every attempt."""

    serializer_class = DeliverySerializer
    queryset = WebhookDelivery.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = _POLICY

    url_scope = PROJECT_PK

    def endpoint(self) -> WebhookEndpoint:
        endpoint = selectors.endpoint_get(self.scope, self.kwargs["webhook_pk"])
        if endpoint is None:
            raise Http404("Not found")
        return endpoint

    def scoped_queryset(self, scope):
        return selectors.deliveries_for_project(scope, endpoint=self.endpoint())

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    @takes_no_body
    def redeliver(self, request, project_pk=None, webhook_pk=None, pk=None):
        delivery = services.delivery_redeliver(actor=request.user, delivery=self.get_object())
        return Response(DeliverySerializer(selectors.delivery_get(self.scope, delivery.pk)).data, status=status.HTTP_202_ACCEPTED)
