"""The email policy inbound mail is read with: the standard library's `policy.default`, with
each header of a mail parsed once.

`policy.default` parses a header into its structured form on every read, and reading a mail
reads the same few headers again and again: Content-Type alone is parsed about a dozen times
per mail (each get_content_type, get_body and get_content call reads it). That was three
quarters of the time spent classifying a plain reply, on the webhook's request path. A parsed
header has no method that changes it, so one parsed object can serve every read of it.

The parsed headers are kept by the mail's own policy (`reading()` makes one per mail) and go
with the mail: a parsed header is a tree of tokens hundreds of times the size of its text
(450 KB for a 1,000-character address list), so a cache shared across mails would grow by
what every mail's unique headers (From, To, Received) hold.
"""

import email.policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

# Longer values (a References chain, a hostile header) are parsed on each read, as before:
# they are read once or twice, and keeping their trees would hold the most memory.
KEPT_UP_TO = 1000

# The standard library's policy is generic only in its type stubs: mail read with it is an
# EmailMessage.
if TYPE_CHECKING:
    _Policy = email.policy.EmailPolicy[EmailMessage]
else:
    _Policy = email.policy.EmailPolicy


class _ParsedOnce(_Policy):
    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > KEPT_UP_TO:
            return super().header_fetch_parse(name, value)
        parsed: dict[tuple[str, str], Any] = self.__dict__["_parsed"]
        key = (name, value)
        if key not in parsed:
            parsed[key] = super().header_fetch_parse(name, value)
        return parsed[key]


def reading() -> _Policy:
    """A policy to read one mail with (and the mails it carries, such as a bounce's copy of
    ours). It shares the standard header registry: a registry of its own would build its
    header classes again."""
    policy = _ParsedOnce(header_factory=email.policy.default.header_factory)
    # Policies refuse attributes after they are made (email._policybase); this one is the
    # policy's own dict of what it parsed.
    object.__setattr__(policy, "_parsed", {})
    return policy
