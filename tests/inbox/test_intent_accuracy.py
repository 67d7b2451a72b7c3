"""The rule classifier against the labelled replies in tests/fixtures/replies/.

replies.jsonl is the set the rules were written from; the held_out*.jsonl sets were each
written before the classifier ever ran on them (see tests/fixtures/replies/README.md for their
order). The newest, held_out_unseen.jsonl, is the one no rule change has looked at: its score is
the honest one. Every held-out set is printed as accuracy and per-label precision and recall, and
its floors are what this file asserts about quality.
"""

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from intent import IncomingReply, Intent, get_classifier
from intent.replytext import reply_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replies"


def _load(name: str) -> list[dict]:
    rows = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]
    for row in rows:
        row.setdefault("body", row.get("text"))  # held_out.jsonl names the body "text"
    return rows


ROWS = _load("replies.jsonl")
HELD_OUT = _load("held_out.jsonl")  # written before the rules were last changed
FROZEN = _load("held_out_frozen.jsonl")  # written after the first round of them
UNSEEN = _load("held_out_unseen.jsonl")  # written after the second; no rule change looked at it


def _classify(row) -> Intent:
    return get_classifier().classify(
        IncomingReply(
            body=row["body"],
            subject=row["subject"],
            channel=row["channel"],
            kind=row["kind"],
            received_on=date.fromisoformat(row["received_on"]),
        )
    )


def _score(rows: list[dict]) -> Counter[tuple[str, str]]:
    """(label, predicted) -> count: the confusion matrix as a Counter."""
    return Counter((row["label"], _classify(row).label) for row in rows)


def _accuracy(pairs: Counter[tuple[str, str]]) -> float:
    return sum(n for (label, got), n in pairs.items() if label == got) / pairs.total()


def _recall(pairs: Counter[tuple[str, str]], label: str) -> float:
    rows = sum(n for (gold, _), n in pairs.items() if gold == label)
    return pairs[label, label] / rows if rows else 1.0


def _precision(pairs: Counter[tuple[str, str]], label: str) -> float:
    said = sum(n for (_, got), n in pairs.items() if got == label)
    return pairs[label, label] / said if said else 1.0


def _table(title: str, pairs: Counter[tuple[str, str]]) -> str:
    labels = sorted({label for label, _ in pairs} | {got for _, got in pairs})
    lines = [
        f"{title}: accuracy {_accuracy(pairs):.1%} on {pairs.total()} replies",
        f"  {'label':15} {'rows':>5} {'precision':>10} {'recall':>7}  most often mistaken for",
    ]
    for label in labels:
        rows = sum(n for (gold, _), n in pairs.items() if gold == label)
        wrong = Counter({got: n for (gold, got), n in pairs.items() if gold == label != got})
        mistaken = ", ".join(f"{got} {n}" for got, n in wrong.most_common(2))
        lines.append(
            f"  {label:15} {rows:5} {_precision(pairs, label):10.0%} "
            f"{_recall(pairs, label):7.0%}  {mistaken}"
        )
    return "\n".join(lines)


def test_the_labelled_set_has_200_replies_in_several_languages_with_every_label():
    assert len(ROWS) >= 200
    assert {r["lang"] for r in ROWS} >= {"en", "de", "fr", "es"}
    assert min(Counter(r["label"] for r in ROWS).values()) >= 15
    assert sum("schrieb" in r["body"] or "wrote:" in r["body"] for r in ROWS) >= 30


def test_rule_writing_set_accuracy_is_reported_and_above_the_floor(capsys):
    pairs = _score(ROWS)
    with capsys.disabled():
        print("\n" + _table("intent, rule-writing set (replies.jsonl)", pairs))
    assert _accuracy(pairs) >= 0.9
    for label in {label for label, _ in pairs}:
        assert _recall(pairs, label) >= 0.8, label


def test_the_held_out_sets_have_replies_in_english_and_german_with_every_label():
    assert len(HELD_OUT) >= 150
    assert len(FROZEN) >= 100
    assert len(UNSEEN) >= 150
    for rows in (HELD_OUT, FROZEN, UNSEEN):
        assert {r["lang"] for r in rows} >= {"en", "de", "fr", "es"}
        counts = Counter(r["label"] for r in rows)
        assert set(counts) == set(Counter(r["label"] for r in ROWS))
        assert min(n for label, n in counts.items() if label != "bounce") >= 10
    # Written independently: no reply of one set reappears in another (a bare "STOP" may).
    sets = (ROWS, HELD_OUT, FROZEN, UNSEEN)
    replies = [{reply_text(r["body"]) for r in rows} - {"STOP"} for rows in sets]
    assert sum(map(len, replies)) == len(set().union(*replies))


# Floors a little under the measured figures (the printed tables), so a rule change that costs
# a held-out set more than a reply or so fails here. The rules were changed while looking at the
# failures of held_out.jsonl and held_out_frozen.jsonl, so those score near 100% and only guard
# against regressions. held_out_unseen.jsonl was written after the last change: its low recall
# for refusals and hand-offs (they fall to "other") is the honest state of keyword rules on text
# they were not written from.
FLOORS: dict[str, tuple[float, dict[str, float]]] = {
    "held_out.jsonl": (
        0.97,
        {
            "interested": 0.9,
            "not_interested": 0.9,
            "not_now": 0.9,
            "wrong_person": 0.9,
            "out_of_office": 0.9,
            "unsubscribe": 0.9,
        },
    ),
    "held_out_frozen.jsonl": (
        0.97,
        {
            "interested": 0.9,
            "not_interested": 0.9,
            "not_now": 0.9,
            "wrong_person": 0.9,
            "out_of_office": 0.9,
            "unsubscribe": 0.9,
        },
    ),
    # The honest measure, and a weak one: 61.2% on 170 replies (ordinary refusals, "wrong
    # person" and polite stop requests fall to "other"). The floors sit at what was measured
    # the first time the classifier ran on these rows, so they only catch a regression.
    "held_out_unseen.jsonl": (
        0.6,
        {
            "interested": 0.6,
            "not_interested": 0.3,
            "not_now": 0.75,
            "wrong_person": 0.3,
            "out_of_office": 0.75,
            "unsubscribe": 0.4,
        },
    ),
}
# Stated return dates found: 15 of 18 on the unseen set ("til the 28th", "Ab Montag, dem
# 27. April", "hasta el 20/03" are missed), all on the older ones.
RETURN_DATE_FLOORS = {"held_out_unseen.jsonl": 0.8}
PRECISION_FLOOR = 0.8  # a label the rules give is right this often, on both held-out sets


@pytest.mark.parametrize("name", FLOORS)
def test_held_out_accuracy_and_per_label_precision_and_recall_are_above_the_floors(name, capsys):
    pairs = _score(_load(name))
    with capsys.disabled():
        print(f"\n{_table(f'intent, held-out set ({name})', pairs)}")
    accuracy, recall_floors = FLOORS[name]
    assert _accuracy(pairs) >= accuracy
    for label, floor in recall_floors.items():
        assert _recall(pairs, label) >= floor, label
        assert _precision(pairs, label) >= PRECISION_FLOOR, label


@pytest.mark.parametrize("name", FLOORS)
def test_held_out_out_of_office_replies_carry_the_stated_return_date(name, capsys):
    stated = [r for r in _load(name) if r["label"] == "out_of_office" and r["return_date"]]
    found = [str(_classify(r).return_date) == r["return_date"] for r in stated]
    with capsys.disabled():
        print(f"\nintent, held-out return dates ({name}): {sum(found)} of {len(found)} found")
    assert sum(found) / len(found) >= RETURN_DATE_FLOORS.get(name, 0.9)


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


def test_stop_on_its_own_is_an_opt_out_but_stop_by_is_not():
    def label(body: str) -> str:
        return _classify({"body": body, "subject": "", "channel": "whatsapp", "kind": "reply",
                          "received_on": "2025-06-02"}).label  # fmt: skip

    assert label("Stop. Third one this week.") == "unsubscribe"
    assert label("Stop by our booth at the fair, happy to talk there.") == "interested"


def test_a_negated_interest_word_is_a_refusal_not_interest():
    for body in ("Merci, mais cela ne nous intéresse pas.", "Sorry, but it's a no from us."):
        assert _classify({"body": body, "subject": "", "channel": "email", "kind": "reply",
                          "received_on": "2025-06-02"}).label == "not_interested"  # fmt: skip


def test_an_auto_reply_returns_on_its_own_date_not_one_in_our_quoted_mail():
    row = {
        "body": "I'm on leave from 20 December to 4 January.\n\n"
        "On Fri, 19 Dec 2025, Anna wrote:\n> Shall we talk after 30 January?",
        "subject": "Automatic reply: Quick question",
        "channel": "email",
        "kind": "auto_reply",
        "received_on": "2025-12-22",
    }
    assert _classify(row).return_date == date(2026, 1, 4)


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
