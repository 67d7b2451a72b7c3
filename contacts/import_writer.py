"""Writing one batch of validated rows: dedupe, match, then set-based inserts and updates.

The rules, in one place:
- Rows of the file that share any identity (same email, phone or handle after
  normalization) are one contact. The first row wins; later rows only fill its blanks.
- A row matching an existing contact by any identity is that contact. A row whose
  identities point at two different existing contacts is reported, never merged.
- Modes decide what happens to an existing contact: create-only skips it, update overwrites
  fields with the file's non-empty values, fill only sets fields that are blank.
- A contact already written earlier by the same import is a duplicate: fill-blanks, always.
- Opt-outs are only ever added (an opt-out is final until a human reverses it).
- Everything of one batch commits together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.access import contacts_visible_to
from contacts.csv_import import ParsedRow, RowError
from contacts.models import ConsentRecord, Contact, ContactImport, Identity, Tag
from contacts.seams import contacts_events

FIELDS = ["first_name", "last_name", "company", "title", "time_zone", "country", "locale"]
CONTACT_COLUMNS = [
    "id", *FIELDS, "custom_fields", "owner_id", "opted_out_at", "created_at", "updated_at",
    "created_by_import", "last_import",
]  # fmt: skip
IDENTITY_COLUMNS = [
    "id", "contact_id", "channel", "value", "platform_user_id", "consent_at", "consent_source",
    "opted_out_at", "opt_out_source", "created_at", "created_by_import",
]  # fmt: skip


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    contact_ids: list[int] = field(default_factory=list)


@dataclass
class _Merged:
    """The rows of one contact within the batch, merged: first non-empty value wins."""

    rows: list[ParsedRow]
    fields: dict[str, str] = field(default_factory=dict)
    identities: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    opted_out: bool = False


def _group(rows: Sequence[ParsedRow]) -> list[_Merged]:
    """Union rows sharing any identity; groups come out in the order of their first row."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        for key in row.identities:
            j = first.setdefault(key, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, _Merged] = {}
    copied: set[int] = set()  # groups whose containers are their own, not their first row's
    for i, row in enumerate(rows):
        root = find(i)
        merged = groups.get(root)
        if merged is None:
            # Most rows are a contact of their own: share the row's containers and copy them
            # only when a second row merges in (the rows are written again on a retry).
            identities = row.identities
            if len(identities) > 1:
                identities = list(dict.fromkeys(identities))
            groups[root] = _Merged(
                [row],
                row.fields,
                identities,
                row.tags,
                row.custom,
                row.consent,
                row.opted_out,
            )
            continue
        if root not in copied:
            copied.add(root)
            merged.fields = dict(merged.fields)
            merged.identities = list(merged.identities)
            merged.tags = list(merged.tags)
            merged.custom = dict(merged.custom)
        merged.rows.append(row)
        for k, v in row.fields.items():
            merged.fields.setdefault(k, v)
        for key in row.identities:
            if key not in merged.identities:
                merged.identities.append(key)
        lowered = {t.lower() for t in merged.tags}
        merged.tags += [t for t in row.tags if t.lower() not in lowered]
        for k, v in row.custom.items():
            merged.custom.setdefault(k, v)
        merged.consent |= row.consent
        merged.opted_out |= row.opted_out
    return list(groups.values())


def _chunks(items: Sequence, size: int = 900) -> Iterable[Sequence]:
    # 900: under SQLite's default limit of 999 bound parameters per statement.
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _existing_identities(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """(channel, value) -> (identity id, contact id, consent_at) for those already stored."""
    by_channel: dict[str, set[str]] = {}
    for channel, value in keys:
        by_channel.setdefault(channel, set()).add(value)
    found: dict[tuple[str, str], tuple] = {}
    table = Identity._meta.db_table
    with connection.cursor() as cur:
        for channel, values in by_channel.items():
            if connection.vendor == "postgresql":
                # One round trip per channel; "= ANY(array)" uses the (channel, value) index.
                # The values go as one string that the server splits: a list parameter costs
                # more to adapt than the query takes. Normalized values never hold a newline.
                joined = "\n".join(values)
                if joined.count("\n") == len(values) - 1:
                    cur.execute(
                        f"SELECT value, id, contact_id, consent_at FROM {table}"
                        " WHERE channel = %s AND value = ANY(string_to_array(%s, E'\\n'))",
                        [channel, joined],
                    )
                else:
                    cur.execute(
                        f"SELECT value, id, contact_id, consent_at FROM {table}"
                        " WHERE channel = %s AND value = ANY(%s)",
                        [channel, list(values)],
                    )
                rows = cur.fetchall()
            else:
                rows = []
                for chunk in _chunks(sorted(values)):
                    marks = ", ".join(["%s"] * len(chunk))
                    cur.execute(
                        f"SELECT value, id, contact_id, consent_at FROM {table}"
                        f" WHERE channel = %s AND value IN ({marks})",
                        [channel, *chunk],
                    )
                    rows += cur.fetchall()
            for value, *rest in rows:
                found[(channel, value)] = tuple(rest)
    return found


def _allocate_ids(model, n: int) -> list[int]:
    if n == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # The sequence is looked up once: inside the select list pg_get_serial_sequence()
            # would run per row and cost more than the nextval() itself.
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            (sequence,) = cur.fetchone()
            cur.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, n])
            return [r[0] for r in cur.fetchall()]
        # SQLite: the IMMEDIATE transaction holds the only write lock, so max(id) is ours.
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        start = cur.fetchone()[0] + 1
        return list(range(start, start + n))


def _insert(model, columns: list[str], rows: list[tuple]) -> None:
    """COPY on PostgreSQL, executemany elsewhere; both far cheaper than bulk_create."""
    if not rows:
        return
    table = model._meta.db_table
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


class TagCache:
    """Tag ids by lower-cased name, created on first use."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def resolve(self, names: Iterable[str]) -> None:
        missing = {n.lower(): n for n in names if n.lower() not in self.ids}
        if not missing:
            return
        Tag.objects.bulk_create([Tag(name=n) for n in missing.values()], ignore_conflicts=True)
        for chunk in _chunks(list(missing)):
            for tag_id, low in (
                Tag.objects.annotate(low=Lower("name"))
                .filter(low__in=chunk)
                .values_list("id", "low")
            ):
                self.ids[low] = tag_id


def _hidden_from(imp: ContactImport, contact_ids: set[int]) -> set[int]:
    """The matched contacts the importer may not see. An import changes only what its creator
    could change by hand, as the API's bulk upsert does (an import without a creator, from
    a management command, is trusted)."""
    if imp.created_by_id is None or not contact_ids:
        return set()
    visible = contacts_visible_to(imp.created_by)
    seen = {
        cid
        for chunk in _chunks(sorted(contact_ids))
        for cid in visible.filter(id__in=chunk).values_list("id", flat=True)
    }
    return contact_ids - seen


def write_batch(imp: ContactImport, rows: list[ParsedRow], tag_cache: TagCache) -> BatchResult:
    """Write one batch inside the caller's transaction."""
    result = BatchResult()
    groups = _group(rows)
    existing = _existing_identities(k for g in groups for k in g.identities)
    matched_ids = {v[1] for v in existing.values()}
    contacts = {
        c["id"]: c
        for chunk in _chunks(sorted(matched_ids))
        for c in Contact.objects.filter(id__in=chunk).values(
            "id", *FIELDS, "custom_fields", "owner_id", "opted_out_at", "last_import"
        )
    }
    hidden = _hidden_from(imp, matched_ids)
    contact_tags: dict[int, set[int]] = {}
    for chunk in _chunks(sorted(matched_ids)):
        for cid, tid in Contact.tags.through.objects.filter(contact_id__in=chunk).values_list(
            "contact_id", "tag_id"
        ):
            contact_tags.setdefault(cid, set()).add(tid)
    tag_cache.resolve([*imp.tags, *(t for g in groups for t in g.tags)])

    now = timezone.now()
    db_now = connection.ops.adapt_datetimefield_value(now)
    source = f"csv import #{imp.pk}"
    new_groups: list[_Merged] = []
    updates: list[tuple] = []  # (fields..., custom_fields, owner_id, opted_out_at, id)
    touched: list[int] = []
    opted_out: list[int] = []  # existing contacts this batch opts out
    new_identities: list[tuple[int, str, str, bool]] = []  # contact, channel, value, consent
    consent_identity_ids: list[int] = []
    consent_records: list[ConsentRecord] = []
    tag_links: list[tuple[int, int]] = []  # for contacts that existed: may exist already
    new_tag_links: list[tuple[int, int]] = []  # for contacts created here: surely new

    for g in groups:
        ids = {existing[k][1] for k in g.identities if k in existing}
        if len(ids) > 1:
            owners = ", ".join(
                f"{ch} {v} -> contact #{existing[(ch, v)][1]}"
                for ch, v in g.identities
                if (ch, v) in existing
            )
            reason = f"matches {len(ids)} different existing contacts ({owners}); not merged"
            result.errors += [RowError(r.line, "", reason, r.cells) for r in g.rows]
            continue
        if not ids:
            new_groups.append(g)
            result.created += 1
            result.duplicates += len(g.rows) - 1
            continue
        cid = ids.pop()
        if cid in hidden:
            reason = "matches a contact you cannot see (another owner's); not changed"
            result.errors += [RowError(r.line, "", reason, r.cells) for r in g.rows]
            continue
        current = contacts[cid]
        duplicate = current["last_import"] == imp.pk
        if imp.mode == ContactImport.Mode.CREATE and not duplicate:
            result.skipped += len(g.rows)
            continue
        mode = ContactImport.Mode.FILL if duplicate else imp.mode
        changed = False
        values = {}
        for name in FIELDS:
            old, new = current[name], g.fields.get(name, "")
            use_new = new and (mode == ContactImport.Mode.UPDATE or not old)
            values[name] = new if use_new else old
            changed |= values[name] != old
        custom = dict(current["custom_fields"] or {})
        for k, v in g.custom.items():
            if mode == ContactImport.Mode.UPDATE or not custom.get(k):
                changed |= custom.get(k) != v
                custom[k] = v
        owner_id = current["owner_id"] or imp.owner_id
        changed |= owner_id != current["owner_id"]
        opted_out_at = current["opted_out_at"]
        if g.opted_out and opted_out_at is None:
            opted_out_at, changed = now, True
            opted_out.append(cid)
            consent_records.append(
                ConsentRecord(contact_id=cid, kind=ConsentRecord.Kind.OPTED_OUT, source=source)
            )
        for key in g.identities:
            if key not in existing:
                new_identities.append((cid, key[0], key[1], g.consent))
                changed = True
            elif g.consent and existing[key][2] is None:
                consent_identity_ids.append(existing[key][0])
                consent_records.append(
                    ConsentRecord(
                        contact_id=cid,
                        identity_id=existing[key][0],
                        channel=key[0],
                        kind=ConsentRecord.Kind.GRANTED,
                        source=source,
                    )
                )
                changed = True
        have = contact_tags.get(cid, set())
        for name in [*g.tags, *imp.tags]:
            tid = tag_cache.ids[name.lower()]
            if tid not in have:
                have.add(tid)
                tag_links.append((cid, tid))
                changed = True
        if changed:
            updates.append(
                (
                    *(values[n] for n in FIELDS),
                    json.dumps(custom),
                    owner_id,
                    connection.ops.adapt_datetimefield_value(opted_out_at),
                    db_now,
                    cid,
                )
            )
        if duplicate:
            result.duplicates += len(g.rows)
        else:
            result.updated += changed
            result.unchanged += not changed
            result.duplicates += len(g.rows) - 1
        touched.append(cid)

    new_ids = _allocate_ids(Contact, len(new_groups))
    contact_rows = []
    for cid, g in zip(new_ids, new_groups, strict=True):
        opted_out_at = db_now if g.opted_out else None
        contact_rows.append(
            (
                cid,
                *[g.fields.get(n, "") for n in FIELDS],
                json.dumps(g.custom) if g.custom else "{}",
                imp.owner_id,
                opted_out_at,
                db_now,
                db_now,
                imp.pk,
                imp.pk,
            )
        )
        new_identities += [(cid, ch, v, g.consent) for ch, v in g.identities]
        if g.opted_out:
            consent_records.append(
                ConsentRecord(contact_id=cid, kind=ConsentRecord.Kind.OPTED_OUT, source=source)
            )
        seen: set[int] = set()
        for name in [*g.tags, *imp.tags]:
            tid = tag_cache.ids[name.lower()]
            if tid not in seen:
                seen.add(tid)
                new_tag_links.append((cid, tid))
    _insert(Contact, CONTACT_COLUMNS, contact_rows)

    # In (channel, value) order, the unique index's order: each insert lands next to the
    # previous one instead of on a random page of an index that outgrows the cache.
    new_identities.sort(key=lambda i: (i[1], i[2]))
    identity_ids = _allocate_ids(Identity, len(new_identities))
    identity_rows = []
    for iid, (cid, ch, value, consent) in zip(identity_ids, new_identities, strict=True):
        identity_rows.append(
            (
                iid, cid, ch, value, "", db_now if consent else None,
                source if consent else "", None, "", db_now, imp.pk,
            )
        )  # fmt: skip
        if consent:
            consent_records.append(
                ConsentRecord(
                    contact_id=cid,
                    identity_id=iid,
                    channel=ch,
                    kind=ConsentRecord.Kind.GRANTED,
                    source=source,
                )
            )
    _insert(Identity, IDENTITY_COLUMNS, identity_rows)

    if updates:
        sets = ", ".join(f"{n} = %s" for n in FIELDS)
        with connection.cursor() as cur:
            cur.executemany(
                f"UPDATE {Contact._meta.db_table} SET {sets}, custom_fields = %s, owner_id = %s,"
                " opted_out_at = %s, updated_at = %s WHERE id = %s",
                updates,
            )
    for chunk in _chunks(touched):
        Contact.objects.filter(id__in=chunk).update(last_import=imp.pk)
    for chunk in _chunks(consent_identity_ids):
        Identity.objects.filter(id__in=chunk, consent_at__isnull=True).update(
            consent_at=now, consent_source=source
        )
    through = Contact.tags.through
    _insert(through, ["contact_id", "tag_id"], new_tag_links)
    through.objects.bulk_create(
        [through(contact_id=c, tag_id=t) for c, t in tag_links],
        ignore_conflicts=True,
        batch_size=5000,
    )
    ConsentRecord.objects.bulk_create(consent_records, batch_size=2000)
    if opted_out:
        contacts_events().contacts_opt_out_changed(opted_out, opted_out=True)
    result.contact_ids = [*new_ids, *touched]
    return result
