from __future__ import annotations

from fractions import Fraction

from django import template
from django.utils.formats import get_format
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def timecode_seconds(value) -> str:
    """Seconds as H:MM:SS or M:SS, for durations in lists ("" when unknown)."""
    if value in (None, ""):
        return ""
    try:
        total = float(value)
    except (TypeError, ValueError):
        return ""
    whole = int(total)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    tenths = int((total - whole) * 10)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}.{tenths}"


@register.filter
def fps(value) -> str:
    """A rational frame rate ("30000/1001") as people say it (29.97)."""
    if not value:
        return ""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return str(value)
    if rate.denominator == 1:
        number = str(rate.numerator)
    else:
        number = f"{float(rate):.3f}".rstrip("0").rstrip(".").replace(".", get_format("DECIMAL_SEPARATOR"))
    return _("%(rate)s fps") % {"rate": number}


@register.filter
def filesize(value) -> str:
    if value in (None, ""):
        return ""
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
