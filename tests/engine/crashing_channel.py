"""The fake platform's HTTP backend, plus a worker that dies at chosen points.

A message whose id matches CRASH_AFTER_CLAIM_MOD / CRASH_AFTER_ACCEPT_MOD (id % 10 == n) kills
its worker process with os._exit the first time it is sent: before the request leaves
("after claim"), or after the platform accepted it but before the engine recorded it ("after
accept"). Marker files in CRASH_DIR make each crash happen once; each names the message and
the attempt that crashed (a crash also strands the rest of its worker's batch, which the
reconciler settles, so the crashing attempt need not be the first).
"""

import os
from pathlib import Path

from outreach.channels.base import OutgoingMessage
from outreach.channels.fakeplatform import FakePlatformChannel
from outreach.models import Message


def _fire_once(kind: str, message_id: int) -> bool:
    crash_dir = Path(os.environ["CRASH_DIR"])
    if any(crash_dir.glob(f"{kind}-{message_id}-*")):
        return False
    attempt = Message.objects.values_list("attempts", flat=True).get(id=message_id)
    (crash_dir / f"{kind}-{message_id}-{attempt}").touch()
    return True


class CrashingChannel(FakePlatformChannel):
    def send(self, message: OutgoingMessage) -> str:
        mod = message.message_id % 10
        if mod == int(os.environ.get("CRASH_AFTER_CLAIM_MOD", -1)) and _fire_once(
            "after_claim", message.message_id
        ):
            os._exit(1)
        provider_id = super().send(message)
        if mod == int(os.environ.get("CRASH_AFTER_ACCEPT_MOD", -1)) and _fire_once(
            "after_accept", message.message_id
        ):
            os._exit(1)
        return provider_id
