"""The fake platform's HTTP backend, plus a worker that dies at chosen points.

A message whose id matches CRASH_AFTER_CLAIM_MOD / CRASH_AFTER_ACCEPT_MOD (id % 10 == n) kills
its worker process with os._exit the first time it is sent: before the request leaves
("after claim"), or after the platform accepted it but before the engine recorded it ("after
accept"). Marker files in CRASH_DIR make each crash happen once.
"""

import os
from pathlib import Path

from outreach.channels.base import OutgoingMessage
from outreach.channels.fakeplatform import FakePlatformChannel


def _fire_once(kind: str, message_id: int) -> bool:
    marker = Path(os.environ["CRASH_DIR"]) / f"{kind}-{message_id}"
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return False
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
