"""Template helpers for the audit page."""

from __future__ import annotations

from datetime import UTC

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def utc_time(value):
    """<time> with the date over the time, in UTC: one strftime per row instead of three |date
    filters (each looks up the locale's formats), the audit page's most repeated cell."""
    if not value:
        return ""
    moment = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}">{}<br>{}</time>', moment.isoformat(), moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")
    )
