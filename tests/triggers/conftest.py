# The fake platform and platform backends, shared with the channel tests.
from tests.channels.conftest import control, fake, fake_server, platform_channels  # noqa: F401
