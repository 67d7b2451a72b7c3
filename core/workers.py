"""Which Celery worker consumes which queue, as each worker last said (config/worker_beat.py).

One row per (worker node, queue), rewritten every WORKER_HEARTBEAT_SECONDS by the worker's
own main process; /readyz reads the fresh ones (config/health.py). A tiny table: workers
delete their rows when they stop, and rows of killed workers are pruned after a day.
"""

from django.db import models


class WorkerBeat(models.Model):
    node = models.CharField(max_length=200, help_text="The worker's node name (-n).")
    queue = models.CharField(max_length=200)
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "queue"], name="workerbeat_node_queue")
        ]

    def __str__(self) -> str:
        return f"{self.node} on {self.queue} at {self.beat_at:%H:%M:%S}"
