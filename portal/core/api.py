"""DRF glue: service errors become JSON with a clear message; request bodies are read strictly."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.core.errors import ServiceError

UNKNOWN_FIELD = _("Unknown field: this request does not take it.")
READ_ONLY_FIELD = _("This field cannot be set here.")


class RefuseUnknownFieldsMixin:
    """A body field the serializer does not take is refused (400, naming it), never silently ignored:
    a typo or a field the caller may not set (studio, owner, approval) must not look like success.
    Read-only fields count as not taken. The refusal comes with the serializer's other errors."""

    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, Mapping):
            fields = self.fields
            for key in data.keys():
                field = fields.get(key)
                if field is None:
                    refused[str(key)] = [UNKNOWN_FIELD]
                elif field.read_only:
                    refused[str(key)] = [READ_ONLY_FIELD]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**exc.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class StrictSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """Base of every serializer that reads a request body."""


class StrictModelSerializer(RefuseUnknownFieldsMixin, serializers.ModelSerializer):
    """Base of every model serializer that also reads a request body."""


class NoBodySerializer(StrictSerializer):
    """What an action that takes no fields reads: any field sent is refused."""


def takes_no_body(handler):
    """For POST actions without fields (archive, resolve, cancel, ...): a body with fields is refused
    like any unknown field, instead of being ignored."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        if request.data:
            NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        return handler(self, request, *args, **kwargs)

    return wrapper


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            body = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            body["detail"] = "; ".join(str(m) for msgs in exc.message_dict.values() for m in msgs)
        else:
            body = {"detail": "; ".join(str(m) for m in exc.messages)}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
