# The fake platform and platform backends, shared with the channel tests.
from tests.channels.conftest import (  # noqa: F401
    control,
    fake,
    fake_server,
    imap_server,
    platform_channels,
)
