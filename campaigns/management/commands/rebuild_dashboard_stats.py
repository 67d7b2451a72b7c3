"""Recompute the dashboard counters from the live tables.

`migrate` runs it once when it adds the counter tables to an install with campaigns
(campaigns/apps.py); run it after changing TIME_ZONE (days are local days), or whenever a
count is in doubt; the counters are exact otherwise. Writers that change counted rows
meanwhile wait for it and then add their change on top.
"""

import time

from django.core.management.base import BaseCommand

from campaigns.counters import counters_rebuild


class Command(BaseCommand):
    help = "Recompute the campaign dashboards' counters from enrollments, messages and labels."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        rows = counters_rebuild()
        self.stdout.write(f"{rows:,} counter rows rebuilt in {time.monotonic() - started:.1f} s")
