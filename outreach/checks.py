from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string


@register()
def channels_check(app_configs, **kwargs):
    errors = []
    for name, conf in settings.OUTREACH_CHANNELS.items():
        try:
            import_string(conf["BACKEND"])
        except (ImportError, KeyError) as exc:
            errors.append(
                Error(f"Channel {name!r} has an unknown backend: {exc}", id="outreach.E001")
            )
    return errors
