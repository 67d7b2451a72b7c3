"""Echo: a made-up platform, added the way docs/channels.md#adding-a-channel says: this
package plus one entry in settings.CHANNELS ("tests.channels.echo.CHANNEL"). Nothing in the
product names it. platform.py is the platform itself, a small HTTP server."""

from outreach.channels.registry import Channel

# The platform signs webhooks with the key both sides were given when the bot was set up.
WEBHOOK_KEY = "echo-webhook-key"

CHANNEL = Channel(
    key="echo",
    label="Echo",
    backend="tests.channels.echo.backend.EchoChannel",
    webhooks=True,
    text_limit=500,
)
