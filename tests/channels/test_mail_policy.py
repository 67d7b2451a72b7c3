"""Inbound mail is read with a policy that parses each header of a mail once
(outreach/mailpolicy.py): every mail of the corpus must read exactly as the standard
library's policy.default reads it, on the first read and on every read after, and what one
mail's policy parsed never answers another mail."""

import email
import email.policy
import gc
import tracemalloc
from pathlib import Path

import pytest

from outreach import mailpolicy
from outreach.mailparse import classify

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
    policy = mailpolicy.reading()
    assert _headers(raw, policy) == expected
    assert _headers(raw, policy) == expected  # now from what the first read parsed


def test_a_header_too_long_to_keep_reads_as_the_standard_policy_reads_it():
    references = " ".join(f"<id-{i}@example.com>" for i in range(200))
    raw = f"From: a@example.com\nReferences: {references}\n\nhi\n".encode()
    assert len(references) > mailpolicy.KEPT_UP_TO
    assert _headers(raw, mailpolicy.reading()) == _headers(raw, email.policy.default)


def test_reading_many_mails_keeps_nothing_of_them():
    """A parsed header is kept by its mail's policy, not by the process: the unique headers
    of thousands of mails (From, To, Received) cannot pile up in a web or worker process."""
    to = ", ".join(f"Person {j} <p{j}@example.com>" for j in range(28))  # about 800 characters
    mails = [
        f"From: lead{i}@example.com\nTo: {to}, x{i}@example.com\nMessage-ID: <m{i}@example.com>"
        f"\nSubject: Re: hello\n\nThanks!\n".encode()
        for i in range(60)
    ]
    classify(mails[0])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for raw in mails[1:]:
            assert classify(raw).text == "Thanks!"
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Keeping each mail's parsed To header would hold about 20 MB here.
    assert kept < 2_000_000
