"""The email policy inbound mail is read with: the standard library's `policy.default`, with
each header value parsed once.

`policy.default` parses a header into its structured form on every read, and reading a mail
reads the same few headers again and again: Content-Type alone is parsed about a dozen times
per mail (each get_content_type, get_body and get_content call reads it). That was three
quarters of the time spent classifying a plain reply, on the webhook's request path. A parsed
header has no method that changes it, so one parsed object can serve every read of the same
name and value, in this mail and the next (most mails share their Content-Type,
MIME-Version and Content-Transfer-Encoding values).
"""

import email.policy
from email.message import EmailMessage
from functools import lru_cache
from typing import TYPE_CHECKING, Any

# Longer values (a References chain, a hostile header) are parsed on each read, as before,
# so the cache stays small whatever comes in.
CACHED_UP_TO = 1000


@lru_cache(maxsize=2048)
def _parsed(name: str, value: str) -> Any:
    return email.policy.default.header_fetch_parse(name, value)


# The standard library's policy is generic only in its type stubs: mail read with it is an
# EmailMessage.
if TYPE_CHECKING:
    _Policy = email.policy.EmailPolicy[EmailMessage]
else:
    _Policy = email.policy.EmailPolicy


class _ParsedOnce(_Policy):
    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > CACHED_UP_TO:
            return super().header_fetch_parse(name, value)
        return _parsed(name, value)


READ = _ParsedOnce()
