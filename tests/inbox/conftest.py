# The fake platform (one server per session, fresh state per test) as the channel tests use it.
from tests.channels.conftest import control, fake, fake_server, platform_channels  # noqa: F401
