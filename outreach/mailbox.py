"""Reply detection by IMAP polling of each email sender's mailbox (docs/channels.md#email).

A cursor per mailbox (MailboxCursor: UIDVALIDITY + last UID seen) says where to resume.
Each batch of fetched mails goes through the same path as the inbound-email webhook:
classified (outreach.mailparse), stored raw unique on (provider, Message-ID), processed
asynchronously. Each mail is stored on its own: one the parser or the database cannot take
is kept raw and quarantined (outreach/inbound/), and the cursor moves past it.
The cursor moves in the same transaction as those inserts, so a crash
anywhere re-reads at most one batch, and the unique Message-ID makes the re-read harmless.
When UIDVALIDITY changes (RFC 3501 2.3.1.1: the server renumbered the mailbox) the whole
mailbox is read again; the same uniqueness keeps that from duplicating anything.
"""

import contextlib
import imaplib
import logging
import re

from django.db import transaction
from django.utils import timezone

from outreach.inbound.store import inbound_items_store, inbound_unparsed_store
from outreach.mailparse import classify
from outreach.models import MailboxCursor, SenderAccount

log = logging.getLogger(__name__)
BATCH = 50
TIMEOUT = 30.0
FETCHED_UID = re.compile(rb"\bUID (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read this time (login refused, server gone); try next tick."""


def mailbox_senders():
    return SenderAccount.objects.filter(channel="email", paused=False).exclude(imap_host="")


def _connect(sender: SenderAccount) -> imaplib.IMAP4:
    cls = imaplib.IMAP4_SSL if sender.imap_tls else imaplib.IMAP4
    conn = cls(sender.imap_host, sender.imap_port, timeout=TIMEOUT)
    try:
        conn.login(sender.imap_username or sender.handle, sender.credentials)
        typ, _ = conn.select(sender.imap_folder or "INBOX", readonly=True)  # EXAMINE: no \Seen
        if typ != "OK":
            raise MailboxError(f"cannot open folder {sender.imap_folder!r}")
    except BaseException:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
        raise
    return conn


def _fetch(conn: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise MailboxError(f"UID FETCH failed: {data!r}")
    mails = []
    for part in data:
        if isinstance(part, tuple) and (m := FETCHED_UID.search(part[0])):
            mails.append((int(m.group(1)), part[1]))
    return sorted(mails)


def _mail_store(raw: bytes, sender: SenderAccount) -> int:
    """Store one mail on its own, byte for byte: one the parser cannot read is kept and
    quarantined, so it never holds the cursor (nor the replies behind it)."""
    try:
        items = [classify(raw)]
    except Exception as exc:  # any parser failure: the mail is what arrived, keep it
        log.warning("%s: a mail the parser cannot read: %r", sender.handle, exc)
        error = f"{type(exc).__name__}: {exc}"
        return len(inbound_unparsed_store(provider="email", raw=raw, sender=sender, error=error))
    return len(inbound_items_store(provider="email", items=items, sender=sender, raw=raw))


def mailbox_poll(*, sender: SenderAccount, batch_size: int = BATCH) -> int:
    """Read the mails that arrived since the last poll; returns how many new events were
    stored (repeats of already stored mails are not counted)."""
    cursor, _ = MailboxCursor.objects.get_or_create(sender=sender)
    stored = 0
    try:
        conn = _connect(sender)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"{sender.imap_host}: {exc}") from exc
    try:
        validity = int(conn.response("UIDVALIDITY")[1][0] or 0)
        start = cursor.last_uid + 1 if validity == cursor.uidvalidity else 1
        if validity != cursor.uidvalidity and cursor.uidvalidity:
            log.warning("%s: UIDVALIDITY changed, reading the mailbox again", sender.handle)
        typ, data = conn.uid("SEARCH", "UID", f"{start}:*")
        if typ != "OK":
            raise MailboxError(f"UID SEARCH failed: {data!r}")
        # "n:*" always includes the largest UID, even one below n (RFC 3501 6.4.8).
        uids = sorted(u for u in map(int, (data[0] or b"").split()) if u >= start)
        for i in range(0, len(uids), batch_size):
            batch = uids[i : i + batch_size]
            mails = _fetch(conn, batch)
            with transaction.atomic():
                stored += sum(_mail_store(raw, sender) for _, raw in mails)
                MailboxCursor.objects.filter(id=cursor.id).update(
                    uidvalidity=validity, last_uid=batch[-1], polled_at=timezone.now()
                )
        if not uids:
            MailboxCursor.objects.filter(id=cursor.id).update(
                uidvalidity=validity,
                last_uid=cursor.last_uid if validity == cursor.uidvalidity else 0,
                polled_at=timezone.now(),
            )
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"{sender.imap_host}: {exc}") from exc
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    return stored
