import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("dmengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each worker's heartbeat per queue, read by /readyz, and the JSON logs' quiet start-up
# (both connect Celery's worker signals).
import config.logs  # noqa: E402, F401
import config.worker_beat  # noqa: E402, F401
