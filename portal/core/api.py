"""DRF glue: service errors become JSON with a clear message."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.core.errors import ServiceError


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
