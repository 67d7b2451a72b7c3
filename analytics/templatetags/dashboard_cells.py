"""A dashboard table's cell as people read it (analytics/tables.py says what a cell holds)."""

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from analytics.tables import Link

register = template.Library()

DAY = "D j M Y"  # "Mon 7 Dec 2026"
MOMENT = "D j M Y, H:i"  # "Mon 7 Dec 2026, 09:00"


@register.filter
def as_shown(value: object) -> object:
    if isinstance(value, Link):
        return format_html('<a href="{}">{}</a>', value.href, value.text)
    if isinstance(value, datetime):
        # The active time zone: the site's (settings.TIME_ZONE) unless a view activated the
        # user's own.
        return date_format(timezone.localtime(value), MOMENT)
    if isinstance(value, date):
        return date_format(value, DAY)
    return value
