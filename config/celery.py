import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# "filesystem://" (the embedded default's broker URL) names kombu's transport with messages
# written whole (config/filesystem_broker.py). Registered by its URL scheme, not by Celery's
# broker_transport setting, which would win over any other broker URL given later.
TRANSPORT_ALIASES["filesystem"] = "config.filesystem_broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("dmengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each worker's heartbeat per queue, read by /readyz, and the JSON logs' quiet start-up
# (both connect Celery's worker signals).
import config.logs  # noqa: E402, F401
import config.worker_beat  # noqa: E402, F401
