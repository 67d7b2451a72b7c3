from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError


def validate_time_zone(value: str) -> None:
    if not value:
        return
    if value not in available_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)."
            ) from None
