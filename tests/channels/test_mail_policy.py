"""Inbound mail is read with a policy that parses each header value once
(outreach/mailpolicy.py): every mail of the corpus must read exactly as the standard
library's policy.default reads it, on the first read and on every read after."""

import email
import email.policy
from pathlib import Path

import pytest

from outreach import mailpolicy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MAILS = sorted(
    p.relative_to(FIXTURES).as_posix()
    for folder in ("inbound/email", "platforms/email")
    for p in (FIXTURES / folder).rglob("*.eml")
)


def _headers(raw: bytes, policy: email.policy.Policy) -> list[tuple]:
    """Every header of every part as the policy reads it: the text, the parsed kind, its
    defects, and the parts a mail is classified by (parameters, addresses)."""
    msg = email.message_from_bytes(raw, policy=policy)
    out = []
    for part in msg.walk():
        out.append(("content type", part.get_content_type(), part.get_content_charset()))
        for name, value in part.items():
            out.append(
                (
                    name,
                    str(value),
                    type(value).__name__,
                    [type(d).__name__ for d in getattr(value, "defects", ())],
                    dict(getattr(value, "params", {})),
                    [str(a) for a in getattr(value, "addresses", ())],
                )
            )
    return out


def test_the_corpus_has_mails_to_compare():
    assert len(MAILS) > 50


@pytest.mark.parametrize("path", MAILS)
def test_every_mail_reads_as_the_standard_policy_reads_it_again_and_again(path):
    raw = (FIXTURES / path).read_bytes()
    expected = _headers(raw, email.policy.default)
    assert _headers(raw, mailpolicy.READ) == expected
    assert _headers(raw, mailpolicy.READ) == expected  # now from what the first read parsed


def test_a_header_too_long_to_keep_reads_as_the_standard_policy_reads_it():
    references = " ".join(f"<id-{i}@example.com>" for i in range(200))
    raw = f"From: a@example.com\nReferences: {references}\n\nhi\n".encode()
    assert len(references) > mailpolicy.CACHED_UP_TO
    assert _headers(raw, mailpolicy.READ) == _headers(raw, email.policy.default)
