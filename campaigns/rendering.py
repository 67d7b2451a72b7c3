"""Rendering message templates for one contact: the one function previews and sends share.

The language itself (and why it is ours rather than Django's or Jinja2's) is described in
campaigns/template_language.py. Here it is compiled to closures once per template text and
rendered with a context of plain strings only, so a template cannot reach a model, another
record, a secret or a setting: there are no objects in reach, only str values.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from campaigns.template_language import (
    FILTERS,
    MAX_OUTPUT,
    If,
    Spin,
    TemplateError,
    Var,
    parse,
)

__all__ = [
    "MAX_OUTPUT",
    "Compiled",
    "RenderedMessage",
    "TemplateError",
    "compile_template",
    "contact_context",
    "context_from_values",
    "render",
    "render_message",
    "stable_choice",
]

MAX_VALUE = 1_000  # a custom field can hold anything; a message gets at most this much of it
CONTACT_FIELDS = ("first_name", "last_name", "company", "title", "country", "locale", "time_zone")
EMAIL = "email"


def stable_choice(options: list, seed: str) -> Any:
    digest = hashlib.sha256(seed.encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def spin_index(seed: str, group: int, n: int) -> int:
    """Which of n spintax options a contact gets: a stable hash, the same in every process."""
    digest = hashlib.blake2b(f"{seed}:{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


class _State:
    __slots__ = ("seed", "missing")

    def __init__(self, seed: str, missing: list[str] | None) -> None:
        self.seed = seed
        self.missing = missing


Part = Callable[[Mapping[str, str], _State], str]


def _compile_var(node: Var) -> Part:
    if node.name.startswith("'"):
        literal = node.name[1:]
        return lambda ctx, st: literal
    key = node.name
    steps: list[Callable[[str], str]] = []
    for fname, arg in node.filters:
        if fname == "default":
            steps.append(lambda v, d=arg: v or d)  # type: ignore[misc]
        elif arg is None:
            steps.append(FILTERS[fname])
        else:
            steps.append(lambda v, f=FILTERS[fname], a=arg: f(v, a))  # type: ignore[misc]
    if node.has_default:

        def filtered(ctx: Mapping[str, str], st: _State) -> str:
            v = ctx.get(key, "")
            for step in steps:
                v = step(v)
            return v

        return filtered

    def plain(ctx: Mapping[str, str], st: _State) -> str:
        v = ctx.get(key, "")
        if not v and st.missing is not None:
            st.missing.append(key)  # lint counts who would get an empty gap here
        for step in steps:
            v = step(v)
        return v

    return plain


def _compile_cond(cond: tuple) -> Callable[[Mapping[str, str]], Any]:
    op = cond[0]
    if op == "var":
        key = cond[1]
        return lambda ctx: ctx.get(key, "")
    if op == "lit":
        text = cond[1]
        return lambda ctx: text
    if op == "not":
        inner = _compile_cond(cond[1])
        return lambda ctx: not inner(ctx)
    a, b = _compile_cond(cond[1]), _compile_cond(cond[2])
    if op == "and":
        return lambda ctx: a(ctx) and b(ctx)
    if op == "or":
        return lambda ctx: a(ctx) or b(ctx)
    if op == "==":
        return lambda ctx: a(ctx) == b(ctx)
    return lambda ctx: a(ctx) != b(ctx)


def _compile_seq(nodes: list) -> Part:
    """A sequence becomes one str.format call: literal text is the format string, and only
    the dynamic parts are Python calls. This is most of the speed over Jinja2."""
    fmt: list[str] = []
    parts: list[Part] = []
    for node in nodes:
        if isinstance(node, str):
            fmt.append(node.replace("{", "{{").replace("}", "}}"))
            continue
        fmt.append("{}")
        if isinstance(node, Var):
            parts.append(_compile_var(node))
        elif isinstance(node, If):
            parts.append(_compile_if(node))
        elif isinstance(node, Spin):
            parts.append(_compile_spin(node))
    if not parts:
        text = "".join(nodes)
        return lambda ctx, st: text
    template = "".join(fmt)
    if len(parts) == 1 and template == "{}":
        return parts[0]
    form = template.format
    return lambda ctx, st: form(*[p(ctx, st) for p in parts])


def _compile_if(node: If) -> Part:
    branches = [
        (_compile_cond(c) if c is not None else None, _compile_seq(body))
        for c, body in node.branches
    ]

    def choose(ctx: Mapping[str, str], st: _State) -> str:
        for cond, body in branches:
            if cond is None or cond(ctx):
                return body(ctx, st)
        return ""

    return choose


def _compile_spin(node: Spin) -> Part:
    options = [_compile_seq(o) for o in node.options]
    n, group = len(options), node.index

    def spin(ctx: Mapping[str, str], st: _State) -> str:
        return options[spin_index(st.seed, group, n)](ctx, st)

    return spin


@dataclass(frozen=True)
class Compiled:
    source: str
    fn: Part
    warnings: tuple[tuple[str, str, int], ...]
    variables: frozenset[str]
    unguarded: frozenset[str]  # variables used somewhere without a default

    def render(self, ctx: Mapping[str, str], seed: str, missing: list[str] | None = None) -> str:
        """The full output, not yet capped (lint needs to know how long it would be)."""
        return self.fn(ctx, _State(seed, missing))


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Compiled:
    """Compile once per template text (an edit is a new text, so a new entry)."""
    parsed = parse(source)
    return Compiled(
        source=source,
        fn=_compile_seq(parsed.nodes),
        warnings=tuple(parsed.warnings),
        variables=frozenset(v.name for v in parsed.variables),
        unguarded=frozenset(v.name for v in parsed.variables if not v.has_default),
    )


def render(text: str, context: Mapping[str, str], *, seed: str) -> str:
    """Render `text` for one contact. Raises TemplateError if the text does not compile."""
    if not text:
        return ""
    return compile_template(text).render(context, seed)[:MAX_OUTPUT]


# --- context: plain strings only -------------------------------------------------------------


def _clip(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)[:MAX_VALUE]


def context_from_values(
    values: Mapping[str, Any],
    *,
    handle: str = "",
    identities: Mapping[str, str] | None = None,
    sender_name: str = "",
    sender_handle: str = "",
    campaign_name: str = "",
) -> dict[str, str]:
    """Build the context from a contact's field values (a model or a .values() row)."""
    ctx = {}
    for f in CONTACT_FIELDS:
        v = values.get(f)
        # Contact fields are short strings already; only odd values take the slow path.
        ctx[f] = v if v.__class__ is str and len(v) <= MAX_VALUE else _clip(v)
    ctx["full_name"] = f"{ctx['first_name']} {ctx['last_name']}".strip()
    ctx["handle"] = handle
    ctx["sender.name"] = ctx["sender_name"] = sender_name
    ctx["sender.handle"] = sender_handle
    ctx["campaign.name"] = ctx["campaign_name"] = campaign_name
    for channel, value in (identities or {}).items():
        ctx[f"identities.{channel}"] = value
    custom = values.get("custom_fields")
    # Rows saved before custom fields were validated may hold a list or a string: no
    # variable comes from them, as if they were empty, rather than an error page.
    for key, value in custom.items() if isinstance(custom, dict) else ():
        ctx[f"custom.{key}"] = _clip(value)
    return ctx


def contact_context(
    *,
    contact: Any,
    identity: Any = None,
    sender: Any = None,
    campaign_name: str = "",
    identities: Mapping[str, str] | None = None,
) -> dict[str, str]:
    values = {f: getattr(contact, f) for f in CONTACT_FIELDS}
    values["custom_fields"] = contact.custom_fields
    return context_from_values(
        values,
        handle=identity.value if identity else "",
        identities=identities,
        sender_name=sender.name if sender else "",
        sender_handle=sender.handle if sender else "",
        campaign_name=campaign_name,
    )


# --- per-channel formatting ------------------------------------------------------------------

_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def plain_text(text: str) -> str:
    """What a DM (and an email's text part) carries: conditionals that rendered nothing
    leave no trailing spaces or runs of blank lines behind."""
    text = text.replace("\r\n", "\n")
    if " \n" in text or "\t\n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUN.sub("\n\n", text)
    return text.strip()


def email_html(text: str) -> str:
    """The HTML part of an email, made from the plain text: every value is escaped, blank
    lines become paragraphs and URLs become links. Templates are written as text, so a
    contact's data can never inject markup."""
    paragraphs = []
    for para in text.split("\n\n"):
        escaped = html.escape(para)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(paragraphs)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str  # empty except for email


def render_message(
    *, subject: str, body: str, channel: str, context: Mapping[str, str], seed: str
) -> RenderedMessage:
    """Render one step for one contact, formatted for its channel. The dispatcher and every
    preview call this, so a preview is what would be sent."""
    text = plain_text(render(body, context, seed=seed))
    # The subject gets its own seed so its spintax does not mirror the body's first group.
    subj = render(subject, context, seed=f"{seed}:subject") if channel == EMAIL else ""
    subj = " ".join(subj.split())
    return RenderedMessage(
        subject=subj, text=text, html=email_html(text) if channel == EMAIL else ""
    )
