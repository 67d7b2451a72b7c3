"""The rule classifier against the labelled replies in tests/fixtures/replies/ (the set a
better classifier is measured against). Prints accuracy per label; asserts a floor."""

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from outreach.intent import IncomingReply, get_classifier
from outreach.replytext import reply_text

REPLIES = Path(__file__).resolve().parent.parent / "fixtures" / "replies" / "replies.jsonl"
ROWS = [json.loads(line) for line in REPLIES.read_text().splitlines() if line.strip()]


def _classify(row):
    return get_classifier().classify(
        IncomingReply(
            body=row["body"],
            subject=row["subject"],
            channel=row["channel"],
            kind=row["kind"],
            received_on=date.fromisoformat(row["received_on"]),
        )
    )


def test_the_labelled_set_has_200_replies_in_several_languages_with_every_label():
    assert len(ROWS) >= 200
    assert {r["lang"] for r in ROWS} >= {"en", "de", "fr", "es"}
    assert min(Counter(r["label"] for r in ROWS).values()) >= 15
    assert sum("schrieb" in r["body"] or "wrote:" in r["body"] for r in ROWS) >= 30


def test_accuracy_per_label_is_reported_and_above_the_floor(capsys):
    total, right = Counter(), Counter()
    for row in ROWS:
        total[row["label"]] += 1
        right[row["label"]] += _classify(row).label == row["label"]
    with capsys.disabled():
        print("\nintent accuracy per label:")
        for label in sorted(total):
            print(
                f"  {label:15} {right[label]:3}/{total[label]:3} {right[label] / total[label]:.0%}"
            )
    assert sum(right.values()) / sum(total.values()) >= 0.9
    for label in total:
        assert right[label] / total[label] >= 0.8, label


def test_out_of_office_replies_carry_the_stated_return_date():
    stated = [r for r in ROWS if r["label"] == "out_of_office" and r["return_date"]]
    found = [str(_classify(r).return_date) == r["return_date"] for r in stated]
    assert sum(found) / len(found) >= 0.9


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("Klingt gut, schicken Sie mir bitte mehr Infos.", "interested"),
        ("Not interested right now, maybe next quarter.", "not_now"),
        ("Not interested, please remove me from your list.", "unsubscribe"),
        (
            "Kein Interesse.\n\nAm 1.6.2025 schrieb Anna:\n> Hätten Sie Interesse an einem Termin?",
            "not_interested",
        ),
    ],
)
def test_named_replies_get_the_label_a_rep_would_give(body, label):
    assert _classify({"body": body, "subject": "", "channel": "email", "kind": "reply",
                      "received_on": "2025-06-02"}).label == label  # fmt: skip


def test_quoted_history_and_signature_do_not_count_as_the_reply():
    body = "Thanks!\n\nBest regards,\nJo\n\nOn Mon, 2 Jun 2025, Anna wrote:\n> interested?"
    assert reply_text(body) == "Thanks!"


def test_an_auto_reply_without_an_absence_is_not_out_of_office():
    row = {
        "body": "We received your message and answer within 24 hours.",
        "subject": "Automatic reply",
        "channel": "email",
        "kind": "auto_reply",
        "received_on": "2025-06-02",
    }
    assert _classify(row).label == "other"
