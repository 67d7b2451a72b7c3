"""Contacts out to CSV or XLSX, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from contacts.channels import CHANNELS
from contacts.csv_download import csv_lines, neutralize
from contacts.models import Contact

FIELDS = ["first_name", "last_name", "company", "title", "time_zone", "country", "locale"]


def export_rows(queryset: QuerySet[Contact]) -> Iterator[list[str]]:
    yield ["id", *FIELDS, *CHANNELS, "tags", "opted_out"]
    qs = queryset.prefetch_related("identities", "tags").order_by("id")
    for c in qs.iterator(chunk_size=2000):
        by_channel: dict[str, list[str]] = {}
        for ident in c.identities.all():
            by_channel.setdefault(ident.channel, []).append(ident.value)
        yield [
            str(c.pk),
            *(neutralize(getattr(c, f)) for f in FIELDS),
            *(neutralize("; ".join(by_channel.get(ch, []))) for ch in CHANNELS),
            neutralize("; ".join(t.name for t in c.tags.all())),
            "yes" if c.opted_out_at else "",
        ]


def export_csv_lines(queryset: QuerySet[Contact]) -> Iterable[str]:
    return csv_lines(export_rows(queryset))


def export_xlsx(queryset: QuerySet[Contact], out) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # streams rows, constant memory
    ws = wb.create_sheet("Contacts")
    for row in export_rows(queryset):
        ws.append(row)
    wb.save(out)
