import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from campaigns.dispatch import dispatch_tick

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the dispatcher in a loop. Safe to run as several replicas (PostgreSQL); "
        "an alternative to the beat entry for deployments that want no single scheduler."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        running = True

        def stop(*_):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            close_old_connections()
            try:
                result = dispatch_tick()
            except Exception:  # a failed tick (database restart, broker down) is retried
                log.exception("dispatcher tick failed")
                time.sleep(interval)
                continue
            if result.materialized or result.offered or result.reconciled:
                self.stdout.write(str(result.as_dict()), ending="\n")
                self.stdout.flush()
            if once:
                break
            time.sleep(interval)
