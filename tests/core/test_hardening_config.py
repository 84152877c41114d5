"""Configuration that must not leak secrets or start unsafe (hardening findings 6 and the SECRET_KEY note)."""

from __future__ import annotations

import logging

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from portal.core import checks
from portal.core.logsafe import RedactSecrets, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('127.0.0.1:5000 - "GET /invite/Zx9-aBcDeF_123/ HTTP/1.1" 200', "Zx9-aBcDeF_123"),
        ('10.0.0.1:1 - "GET /accounts/password-reset/MTI/cf7a2-0b1c2d3e4f/ HTTP/1.1" 302', "cf7a2-0b1c2d3e4f"),
        ('10.0.0.1:1 - "GET /api/x/?page=2&token=abc123SECRET HTTP/1.1" 200', "abc123SECRET"),
    ],
)
def test_tokens_in_urls_are_redacted(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "[redacted]" in cleaned
    assert cleaned.split('"')[0] == line.split('"')[0]  # the rest of the line is kept


def test_the_access_log_record_is_redacted_with_its_arguments():
    # uvicorn's access log formats '%s - "%s %s HTTP/%s" %d' with the path as an argument
    args = ("1.2.3.4:5", "GET", "/invite/tok3n/", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    assert RedactSecrets().filter(record)
    assert "tok3n" not in record.getMessage() and "/invite/[redacted]/" in record.getMessage()


def test_the_portal_logging_config_redacts_the_access_log(capsys):
    handler = logging.getLogger("uvicorn.access").handlers[0]
    assert any(isinstance(f, RedactSecrets) for f in handler.filters)


def test_production_with_console_email_fails_the_deploy_check_and_refuses_to_start(settings):
    settings.PORTAL_ENV = "production"
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    found = [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.E010"]
    assert found and "EMAIL_HOST" in found[0].hint
    with pytest.raises(ImproperlyConfigured, match="EMAIL_HOST"):
        checks.refuse_unsafe_production()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "portal.E010"]
    checks.refuse_unsafe_production()


def test_every_page_carries_a_content_security_policy(client, settings):
    response = client.get("/account/sign-in/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "blob:" in directives["media-src"]


def test_the_policy_allows_media_from_object_storage_when_configured(settings):
    from portal.core.middleware import content_security_policy

    settings.CSP_STORAGE_ORIGINS = ["https://media.example.com"]
    policy = content_security_policy()
    assert "media-src 'self' blob: https://media.example.com" in policy
    assert "script-src 'self';" in policy
