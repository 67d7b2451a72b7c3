from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

from contacts import normalize


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


def validate_country(value: str) -> None:
    """An ISO 3166-1 alpha-2 code, judged as the CSV import judges it (normalize.country);
    the stored form is the upper-case code, so "de" or "Germany" is refused here."""
    if not value:
        return
    try:
        code = normalize.country(value)
    except normalize.Invalid as exc:
        raise ValidationError(str(exc)) from None
    if code != value:
        raise ValidationError(f"{value!r}: write the upper-case ISO code, {code}.")


def validate_custom_fields(value: object) -> None:
    """A flat JSON object of names to strings, numbers, booleans or null: what templates,
    previews and the CSV import read ({{ custom.name }}), and what the import writes."""
    if not isinstance(value, dict):
        raise ValidationError(
            f"Custom fields must be an object of names to values, not {_json_kind(value)}."
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("Every custom field needs a name.")
        if item is not None and not isinstance(item, str | int | float | bool):
            raise ValidationError(
                f"Custom field {key!r} holds {_json_kind(item)}; "
                "use a string, number, true/false or null."
            )


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def default_country(value: str) -> str:
    """The region national phone numbers of an import are read in ("uk" -> "GB"), or "":
    the one check of the upload form and the API."""
    if not value.strip():
        return ""
    try:
        return normalize.phone_region(value)
    except normalize.Invalid:
        raise ValidationError(normalize.DEFAULT_COUNTRY_ERROR.format(value=value)) from None
