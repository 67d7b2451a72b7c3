"""SPF, DKIM, DMARC and alignment of one sending domain, each as pass / fail / missing with
the record found and the exact record to publish (docs/deliverability.md, "Sending
domains"). Pure reading of DNS answers: deliverability/services.py stores the results."""

from __future__ import annotations

import re

from django.conf import settings

from deliverability.dns import LookupFailed, txt_records
from deliverability.models import SendingDomain

PASS, FAIL, MISSING = "pass", "fail", "missing"


def result(status: str, *, found: str = "", publish: str = "", note: str = "", name: str = ""):
    return {"status": status, "found": found, "publish": publish, "note": note, "name": name}


def organizational(domain: str) -> str:
    """The registered domain, taken as the last two labels. Without the public suffix list
    (not a dependency here) a domain under a two-label suffix such as co.uk is over-trimmed:
    relaxed alignment then compares suffixes, so set the DKIM domain to the exact domain."""
    return ".".join(domain.lower().rstrip(".").split(".")[-2:])


def aligned(a: str, b: str, mode: str) -> bool:
    """RFC 7489 3.1: strict needs the same domain, relaxed the same organizational one."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b if mode == "s" else organizational(a) == organizational(b)


def tags(record: str) -> dict[str, str]:
    """tag=value; pairs of a DKIM or DMARC record, whitespace removed from values."""
    out = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = re.sub(r"\s+", "", value)
    return out


def spf_check(domain: str) -> dict:
    include = getattr(settings, "SPF_INCLUDE", "").strip()
    wanted = include or "mx"
    name = domain
    records = [r for r in txt_records(domain) if r.lower().startswith("v=spf1")]
    if not records:
        return result(
            MISSING,
            name=name,
            publish=f"v=spf1 {wanted} ~all",
            note="No SPF record: receivers cannot tell which servers may send for the domain.",
        )
    if len(records) > 1:
        return result(
            FAIL,
            name=name,
            found=" | ".join(records),
            publish=f"v=spf1 {wanted} ~all",
            note="More than one SPF record is an error (RFC 7208 3.2): keep one.",
        )
    record = records[0]
    terms = record.split()
    ending = next((t for t in reversed(terms) if t.lower().endswith("all")), "")
    if ending.lower() in ("-all", "~all"):
        kind = "rejects" if ending == "-all" else "soft-fails"
        note = f"Ends with {ending}: mail from other servers {kind}."
    else:
        rest = " ".join(t for t in terms[1:] if t != ending)
        return result(
            FAIL,
            name=name,
            found=record,
            publish=f"v=spf1 {rest} ~all".replace("  ", " "),
            note=f"Ends with {ending or 'no all'}: it allows any server; end it with ~all or -all.",
        )
    if include and include.lower() not in (t.lower() for t in terms):
        publish = " ".join([*terms[:-1], include, terms[-1]])
        return result(
            FAIL,
            name=name,
            found=record,
            publish=publish,
            note=f"Your mail server's {include} is not in it. {note}",
        )
    if not include:
        note += (
            " We cannot know your SMTP server's addresses: make sure the record includes what "
            "its provider documents (SPF_INCLUDE names it here)."
        )
    return result(PASS, name=name, found=record, publish=record, note=note)


def dkim_check(sending: SendingDomain) -> dict:
    name = f"{sending.dkim_selector}._domainkey.{sending.signing_domain}"
    ours = f"v=DKIM1; k=rsa; p={sending.dkim_public_key}" if sending.dkim_public_key else ""
    records = [r for r in txt_records(name) if "p=" in r]
    if not records:
        note = "No key published at the selector." + (
            "" if ours else " Generate a key to sign in the app, or publish your mail server's."
        )
        return result(MISSING, name=name, publish=ours, note=note)
    found = records[0]
    if not ours:
        return result(
            PASS,
            name=name,
            found=found,
            publish=found,
            note="A key is published (your mail server signs); the app holds none to compare.",
        )
    if tags(found).get("p") != sending.dkim_public_key:
        return result(
            FAIL,
            name=name,
            found=found,
            publish=ours,
            note="The published key is not the one the app signs with.",
        )
    return result(PASS, name=name, found=found, publish=ours, note="Matches the app's key.")


def dmarc_record(domain: str) -> tuple[str, str]:
    """(name, record) of the DMARC policy for the domain, falling back to its
    organizational domain (RFC 7489 6.6.3); ("", "") when none."""
    for candidate in dict.fromkeys([domain, organizational(domain)]):
        name = f"_dmarc.{candidate}"
        found = [r for r in txt_records(name) if r.lower().replace(" ", "").startswith("v=dmarc1")]
        if found:
            return name, found[0]
    return "", ""


def dmarc_check(domain: str, name: str, record: str) -> dict:
    publish = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"
    if not record:
        return result(
            MISSING,
            name=f"_dmarc.{domain}",
            publish=publish,
            note="No DMARC record: Gmail and Yahoo require one from bulk senders.",
        )
    policy = tags(record).get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        note = "The record has no valid p= policy."
        return result(FAIL, name=name, found=record, publish=publish, note=note)
    return result(PASS, name=name, found=record, publish=record, note=f"Policy p={policy}.")


def alignment_check(sending: SendingDomain, spf: dict, dkim: dict, dmarc_found: str) -> dict:
    """DMARC passes when SPF or DKIM passes for a domain aligned with the From domain. Our
    send path uses the From address as envelope sender, so SPF's domain is the From domain."""
    if not dmarc_found:
        return result(MISSING, note="Needs a DMARC record first.")
    policy = tags(dmarc_found)
    adkim, aspf = policy.get("adkim", "r").lower()[:1], policy.get("aspf", "r").lower()[:1]
    d = sending.signing_domain
    dkim_ok = dkim["status"] == PASS and aligned(d, sending.domain, adkim)
    spf_ok = spf["status"] == PASS and aligned(sending.domain, sending.domain, aspf)
    mode = {"s": "strict", "r": "relaxed"}
    found = f"From {sending.domain}, DKIM d={d} ({mode[adkim]}), SPF ({mode[aspf]})"
    if dkim_ok or spf_ok:
        which = " and ".join(n for n, ok in (("DKIM", dkim_ok), ("SPF", spf_ok)) if ok)
        return result(PASS, found=found, note=f"{which} aligned with the From domain.")
    if dkim["status"] == PASS and not aligned(d, sending.domain, adkim):
        note = (
            f"DKIM signs as d={d}, which {mode[adkim]} alignment does not accept "
            "for the From domain."
        )
    else:
        note = "Neither SPF nor DKIM passes for the From domain."
    return result(FAIL, found=found, publish=f"DKIM d={sending.domain} (or adkim=r)", note=note)


def domain_results(sending: SendingDomain) -> dict:
    try:
        spf = spf_check(sending.domain)
    except LookupFailed as exc:
        spf = result(FAIL, name=sending.domain, note=f"DNS lookup failed ({exc}).")
    try:
        dkim = dkim_check(sending)
    except LookupFailed as exc:
        dkim = result(FAIL, note=f"DNS lookup failed ({exc}).")
    try:
        name, record = dmarc_record(sending.domain)
        dmarc = dmarc_check(sending.domain, name, record)
    except LookupFailed as exc:
        record, dmarc = "", result(FAIL, note=f"DNS lookup failed ({exc}).")
    return {
        "spf": spf,
        "dkim": dkim,
        "dmarc": dmarc,
        "alignment": alignment_check(sending, spf, dkim, record),
    }
