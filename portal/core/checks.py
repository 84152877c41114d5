"""Deployment checks of the portal's own (run by `manage.py check --deploy` and at server start in production)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

CONSOLE_BACKENDS = ("django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.filebased.EmailBackend")


@register(Tags.security, deploy=True)
def email_is_delivered(app_configs=None, **kwargs) -> list[Error]:
    """Invitation and password-reset mails carry sign-in tokens: in production they must go to the
    person, never to the server's output (where the log collector keeps them)."""
    if settings.PORTAL_ENV == "production" and settings.EMAIL_BACKEND in CONSOLE_BACKENDS:
        return [
            Error(
                "Production would write e-mails (with their invitation and password-reset links) to the server's output.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) to an SMTP server.",
                id="portal.E010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def content_credentials_signer(app_configs=None, **kwargs) -> list:
    """Approved generated originals leave with C2PA credentials signed by the platform's certificate.
    Without one they leave unsigned (the review page says so): production warns, unless
    C2PA_SIGNING_OFF says that is on purpose. A certificate that is configured but unusable is an error."""
    if settings.PORTAL_ENV != "production":
        return []
    if not (settings.C2PA_SIGN_CERT and settings.C2PA_SIGN_KEY):
        if settings.C2PA_SIGNING_OFF:
            return []
        return [
            Warning(
                "No platform certificate for content credentials: approved generated originals leave unsigned.",
                hint="Set C2PA_SIGN_CERT and C2PA_SIGN_KEY to PEM files (ES256 or PS256, with a C2PA-valid EKU), "
                "or C2PA_SIGNING_OFF=true to ship unsigned on purpose.",
                id="portal.W020",
            )
        ]
    from portal.review.credentials import CredentialsError, self_test
    from portal.review.services import signing_config

    try:
        self_test(signing_config())
    except CredentialsError as exc:
        return [Error(f"The content-credentials certificate is unusable: {exc}", id="portal.E020")]
    return []


def refuse_unsafe_production() -> None:
    """Called when the server starts: production does not start with an error of the checks above."""
    from django.core.exceptions import ImproperlyConfigured

    problems = email_is_delivered()
    if problems:
        raise ImproperlyConfigured("; ".join(f"{p.id}: {p.msg} {p.hint}" for p in problems))
