# The fake platform and its channels, as the channel tests use them (replies arrive as
# signed webhooks from it).
from tests.channels.conftest import (  # noqa: F401
    control,
    fake,
    fake_server,
    platform_channels,
)
