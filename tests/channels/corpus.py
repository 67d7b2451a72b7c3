"""The replay corpus: real-world-shaped inbound events and mails under tests/fixtures/inbound/
and the table of what each one must do (tests/fixtures/inbound/outcomes.csv)."""

import csv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "inbound"
TABLE = ROOT / "outcomes.csv"
NOT_CORPUS = {"README.md", "outcomes.csv"}


@dataclass(frozen=True)
class Row:
    """One file and its expected outcome. `account` is our sender's handle (page, phone
    number id, bot, mailbox), `contact` the person's platform id or address (empty: nobody
    known yet), `ours` the platform id of a message of ours the file refers to, `theirs` the
    id of an earlier message of the contact's the file edits or unsends. `worker` is what
    processing each stored event returns, ";"-separated; `expect` is read per outcome."""

    path: str
    channel: str
    delivery: str
    account: str
    contact: str
    ours: str
    theirs: str
    http: int
    outcome: str
    worker: str
    expect: str
    source: str
    licence: str

    @property
    def worker_outcomes(self) -> list[str]:
        return [w.strip() for w in self.worker.split(";") if w.strip()]


def rows() -> dict[str, Row]:
    with TABLE.open(newline="", encoding="utf-8") as f:
        return {r["path"]: Row(**(r | {"http": int(r["http"] or 0)})) for r in csv.DictReader(f)}


def files() -> list[str]:
    """Every corpus file on disk, as the table names it."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and p.name not in NOT_CORPUS
    )
