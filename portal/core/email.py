from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string


def send_on_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    """Send after the surrounding transaction commits, so a rolled-back write sends nothing."""
    body = render_to_string(template, context)

    def _send():
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)

    transaction.on_commit(_send)
