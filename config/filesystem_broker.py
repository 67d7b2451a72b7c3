"""The embedded default's broker: kombu's filesystem transport, writing whole messages only.

kombu writes a message by creating its file in the queue folder and then writing into it;
a worker takes any file of its queue it lists, moves it away and reads it. A worker that came
between the two read an empty file, failed to decode it and stopped ("Unrecoverable error:
JSONDecodeError", kombu#1551), taking `make run` down with it, and the message was gone.
Here a message is written under a name no worker takes, then renamed into place: a rename on
one filesystem is atomic, so a worker sees a whole message or none.
"""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # The name kombu's filesystem Channel gives the argument; its own base names it `message`.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # kombu's own name, so its readers' ordering and queue matching are unchanged.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # not "<queue>.msg": no reader picks it up
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
