"""News from contacts for apps above it (campaigns enrols imported contacts, for instance)."""

from django.dispatch import Signal

# Sent after each committed batch of an import, with ``contact_import`` (the ContactImport)
# and ``contact_ids`` (every contact the batch created or matched). Receivers read their own
# options from ``contact_import.hook_options``. Sent with send_robust: a failing receiver is
# logged and never undoes or stops the import.
contacts_imported = Signal()

# Callables (user) -> [(value, label)] for the upload form's "Then" choice, listing only what
# that user may see (the form refuses any other value); the chosen value
# lands in ContactImport.hook_options["then"] for the receivers above.
import_choice_providers: list = []

# Sent with ``contact`` (the Contact), ``channel`` ("" for every channel) and ``source``
# after an opt-out is recorded, inside its transaction.
contact_opted_out = Signal()

# Sent with ``contact_ids`` and ``opted_out`` (True: opted out of every channel, False:
# reinstated) for contacts whose opted_out_at just changed, inside its transaction.
contacts_opt_out_changed = Signal()

# Callables (contact ids: a list or a values("id") queryset) -> {what: set of contact ids}
# for activity that deleting a contact would take with it, e.g. {"replied": {3, 7}}. Apps
# above contacts register theirs at start-up; an import's rollback asks them first.
contact_activity_providers: list = []
