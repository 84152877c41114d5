"""Base errors that services raise and views/API turn into messages and status codes."""

from django.core.exceptions import ValidationError  # re-exported: services raise it for bad input


class ServiceError(Exception):
    """A request that is well-formed but cannot be carried out; the message is user-facing."""

    status_code = 400

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


class Conflict(ServiceError):
    status_code = 409


__all__ = ["ValidationError", "ServiceError", "Conflict"]
