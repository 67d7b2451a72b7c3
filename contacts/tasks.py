# The import run's task lives next to the run it queues (contacts/imports.py); imported here
# so Celery's autodiscovery registers it.
from contacts.imports import contact_import_run_task, sweep_lost_imports  # noqa: F401
