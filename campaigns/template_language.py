"""The message template language: a small language of our own, compiled once to closures.

Why not Django templates or Jinja2's sandbox (decided by bench/bench_templates.py and
tests/templates/test_sandbox.py):
- Both are general languages made safe by subtraction: attribute lookups, method calls,
  loops and ranges exist and a sandbox has to police them at run time. Here they do not
  exist. A template can only name variables from a fixed allow-list (checked at compile
  time, so an unknown name is a lint error, never a silent blank), apply a few string
  filters, test conditions and pick spintax. There is nothing to escape from.
- There are no loops, so render time and output size are linear in the template plus the
  (clipped) variable values; a hard cap on output remains as a second line.
- Compiled closures render 2-4x faster than Jinja2's sandbox and 4-8x faster than Django
  templates on the benchmark template (README / bench).
- Reps keep the syntax they know from Django/Jinja: {{ first_name|default:"there" }},
  {% if company %}…{% elif … %}…{% else %}…{% endif %}, {# comments #}, and spintax
  {Hi|Hello|Hey} chosen per contact with a stable hash (preview == sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from contacts.channels import CHANNELS

MAX_SOURCE = 20_000  # characters of template source
MAX_OUTPUT = 20_000  # characters of rendered output; anything longer is cut and linted
MAX_DEPTH = 16  # nesting of spintax groups and if-blocks
# A condition is parsed, compiled and evaluated by recursion, one level per "(" or "not" and
# one per "and"/"or" term: both are capped so that no text reaches Python's recursion limit
# (a RecursionError is not a TemplateError and would fail whatever renders it, e.g. the
# inbound processing of a trigger's reply).
MAX_COND_DEPTH = 50
MAX_COND_TERMS = 100
MAX_TRUNCATE = 10_000

CONTACT_VARS = (
    "first_name",
    "last_name",
    "full_name",
    "company",
    "title",
    "country",
    "locale",
    "time_zone",
    "handle",
)
# Dotted names are flat keys of the context dict: "sender.name" is one key, not a lookup.
NAMED_VARS = frozenset(
    [
        *CONTACT_VARS,
        "sender.name",
        "sender.handle",
        "sender_name",
        "campaign.name",
        "campaign_name",
        *(f"identities.{ch}" for ch in CHANNELS),
    ]
)
CUSTOM_PREFIX = "custom."
_CUSTOM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9][A-Za-z0-9_-]*)?\Z")


class TemplateError(Exception):
    """A template that cannot compile. `kind` is "syntax", "spintax" or "unknown_variable"."""

    def __init__(self, message: str, *, kind: str = "syntax", line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.kind = kind
        self.line = line
        self.text = message


def is_known_variable(name: str) -> bool:
    if name in NAMED_VARS:
        return True
    return name.startswith(CUSTOM_PREFIX) and bool(_CUSTOM_KEY.match(name[len(CUSTOM_PREFIX) :]))


# --- filters: plain str -> str functions; nothing else is callable from a template ----------


def _truncatechars(value: str, n: int) -> str:
    return value if len(value) <= n else value[: max(n - 1, 0)] + "…"


def _first_word(value: str) -> str:
    parts = value.split(None, 1)
    return parts[0] if parts else ""


def _capfirst(value: str) -> str:
    return value[:1].upper() + value[1:]


FILTERS: dict[str, Callable[..., str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "capfirst": _capfirst,
    "trim": str.strip,
    "first_word": _first_word,
    "truncatechars": _truncatechars,
}
FILTER_ARGS = {"default": str, "truncatechars": int}


# --- parse tree ------------------------------------------------------------------------------


@dataclass
class Var:
    name: str
    filters: list[tuple[str, str | int | None]]
    has_default: bool
    line: int


@dataclass
class If:
    branches: list[tuple[Cond, list]]  # (condition, nodes); else is (None, nodes)


@dataclass
class Spin:
    index: int
    options: list[list]
    line: int


# A condition is ("var", name) | ("lit", text) | ("not", c) | ("and"/"or", a, b) | ("==", a, b)
Cond = tuple


@dataclass
class Parsed:
    nodes: list
    variables: list[Var] = field(default_factory=list)
    spin_count: int = 0
    warnings: list[tuple[str, str, int]] = field(default_factory=list)  # (code, text, line)


_SPECIAL = re.compile(r"\{\{|\{%|\{#|[{}|]|%\}")
_COND_TOKEN = re.compile(r"""\s*(==|!=|\(|\)|"[^"]*"|'[^']*'|[A-Za-z_][A-Za-z0-9_.\-]*)""")


class _Parser:
    def __init__(self, source: str) -> None:
        if len(source) > MAX_SOURCE:
            raise TemplateError(f"template is longer than {MAX_SOURCE:,} characters")
        self.src = source
        self.pos = 0
        self.depth = 0
        self.cond_depth = 0
        self.cond_terms = 0
        self.pending_tag: tuple[str, str, int] = ("", "", 0)
        self.out = Parsed(nodes=[])

    def line(self, pos: int | None = None) -> int:
        return self.src.count("\n", 0, self.pos if pos is None else pos) + 1

    def parse(self) -> Parsed:
        nodes, end = self.seq(in_spin=False)
        if end != "eof":
            raise TemplateError(f"{{% {end} %}} without {{% if %}}", line=self.line())
        self.out.nodes = nodes
        return self.out

    def seq(self, *, in_spin: bool) -> tuple[list, str]:
        """Parse until EOF, a block tag (elif/else/endif) or, inside spintax, "|" or "}"."""
        nodes: list = []
        text: list[str] = []

        def flush() -> None:
            if text:
                nodes.append("".join(text))
                text.clear()

        src = self.src
        while True:
            m = _SPECIAL.search(src, self.pos)
            if m is None:
                text.append(src[self.pos :])
                self.pos = len(src)
                flush()
                return nodes, "eof"
            text.append(src[self.pos : m.start()])
            tok = m.group()
            start = m.start()
            self.pos = m.end()
            if tok == "{{":
                flush()
                nodes.append(self.var(start))
            elif tok == "{#":
                close = src.find("#}", self.pos)
                if close < 0:
                    raise TemplateError("{# comment is never closed with #}", line=self.line(start))
                self.pos = close + 2
            elif tok == "{%":
                flush()
                tag, arg = self.tag(start)
                if tag == "if":
                    nodes.append(self.if_block(arg, start))
                elif tag in ("elif", "else", "endif"):
                    self.pending_tag = (tag, arg, start)
                    return nodes, tag
                else:
                    raise TemplateError(f"unknown tag {{% {tag} %}}", line=self.line(start))
            elif tok == "{":
                flush()
                nodes.extend(self.spin(start))
            elif tok in ("|", "}") and in_spin:
                flush()
                return nodes, tok
            elif tok == "}" and src.startswith("}", self.pos):
                raise TemplateError("}} without a matching {{", line=self.line(start))
            elif tok == "%}":
                raise TemplateError("%} without a matching {%", line=self.line(start))
            else:
                text.append(tok)

    def var(self, start: int) -> Var:
        close = self.src.find("}}", self.pos)
        if close < 0 or "{{" in self.src[self.pos : close]:
            raise TemplateError("{{ is never closed with }}", line=self.line(start))
        inner = self.src[self.pos : close].strip()
        self.pos = close + 2
        line = self.line(start)
        parts = _split_filters(inner, line)
        name = parts[0]
        filters: list[tuple[str, str | int | None]] = []
        if _is_literal(name):
            name = "'" + name[1:-1]  # a string literal, e.g. {{ "{" }} for a literal brace
        elif not _NAME.match(name):
            raise TemplateError(f"{{{{ {inner} }}}} is not a variable name", line=line)
        elif not is_known_variable(name):
            raise TemplateError(f"unknown variable {name!r}", kind="unknown_variable", line=line)
        for part in parts[1:]:
            fname, _, arg = part.partition(":")
            fname = fname.strip()
            arg = arg.strip()
            if fname not in FILTERS and fname != "default":
                raise TemplateError(f"unknown filter {fname!r}", line=line)
            kind = FILTER_ARGS.get(fname)
            if kind is None:
                if arg:
                    raise TemplateError(f"filter {fname!r} takes no argument", line=line)
                filters.append((fname, None))
            elif kind is int:
                if not arg.isdigit() or not 0 < int(arg) <= MAX_TRUNCATE:
                    raise TemplateError(f"{fname} needs a number up to {MAX_TRUNCATE}", line=line)
                filters.append((fname, int(arg)))
            else:
                if not _is_literal(arg):
                    raise TemplateError(
                        f'{fname} needs a quoted text, e.g. {fname}:"there"', line=line
                    )
                filters.append((fname, arg[1:-1]))
        var = Var(name, filters, any(f == "default" for f, _ in filters), line)
        if not name.startswith("'"):
            self.out.variables.append(var)
        return var

    def tag(self, start: int) -> tuple[str, str]:
        close = self.src.find("%}", self.pos)
        if close < 0:
            raise TemplateError("{% is never closed with %}", line=self.line(start))
        inner = self.src[self.pos : close].strip()
        self.pos = close + 2
        tag, _, arg = inner.partition(" ")
        return tag, arg.strip()

    def enter(self, start: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TemplateError(f"nested more than {MAX_DEPTH} deep", line=self.line(start))

    def cond_enter(self, line: int) -> None:
        self.cond_depth += 1
        if self.cond_depth > MAX_COND_DEPTH:
            raise TemplateError(f"condition nested too deeply (limit {MAX_COND_DEPTH})", line=line)

    def cond_term(self, line: int) -> None:
        self.cond_terms += 1
        if self.cond_terms > MAX_COND_TERMS:
            raise TemplateError(f"condition has too many terms (limit {MAX_COND_TERMS})", line=line)

    def if_block(self, arg: str, start: int) -> If:
        self.enter(start)
        branches: list[tuple[Cond | None, list]] = []
        cond: Cond | None = self.condition(arg, start)
        seen_else = False
        while True:
            nodes, end = self.seq(in_spin=False)
            branches.append((cond, nodes))
            if end == "eof":
                raise TemplateError(
                    "{% if %} is never closed with {% endif %}", line=self.line(start)
                )
            tag, targ, tstart = self.pending_tag
            if end == "endif":
                break
            if seen_else:
                raise TemplateError(f"{{% {tag} %}} after {{% else %}}", line=self.line(tstart))
            if tag == "else":
                seen_else, cond = True, None
            else:
                cond = self.condition(targ, tstart)
        self.depth -= 1
        return If(branches)  # type: ignore[arg-type]

    def condition(self, text: str, start: int) -> Cond:
        line = self.line(start)
        tokens = _COND_TOKEN.findall(text)
        if not text.strip() or "".join(tokens).replace(" ", "") != text.replace(" ", ""):
            raise TemplateError(f"cannot read the condition {text!r}", line=line)
        self.cond_depth, self.cond_terms = 0, 0
        cond, rest = _parse_or(tokens, line, self)
        if rest:
            raise TemplateError(f"cannot read the condition {text!r}", line=line)
        return cond

    def spin(self, start: int) -> list:
        self.enter(start)
        options: list[list] = []
        while True:
            nodes, end = self.seq(in_spin=True)
            options.append(nodes)
            if end == "}":
                break
            if end == "eof":
                raise TemplateError(
                    "spintax { is never closed with }", kind="spintax", line=self.line(start)
                )
            if end != "|":
                raise TemplateError(
                    f"{{% {end} %}} inside a spintax option must be closed in the same option",
                    kind="spintax",
                    line=self.line(start),
                )
        self.depth -= 1
        if len(options) == 1:
            # Braces without "|" are not spintax; they are sent as written.
            self.out.warnings.append(
                (
                    "literal_braces",
                    "{…} without | is sent literally, braces included",
                    self.line(start),
                )
            )
            return ["{", *options[0], "}"]
        texts = [o[0] if len(o) == 1 and isinstance(o[0], str) else None for o in options]
        plain = [t for t in texts if t is not None]
        if len(plain) != len(set(plain)):
            self.out.warnings.append(
                ("spintax_duplicate", "a spintax group repeats an option", self.line(start))
            )
        index = self.out.spin_count
        self.out.spin_count += 1
        return [Spin(index, options, self.line(start))]


def _is_literal(s: str) -> bool:
    return len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'"


def _split_filters(inner: str, line: int) -> list[str]:
    """Split on | outside quotes."""
    parts, buf, quote = [], [], ""
    for ch in inner:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch == "|":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    if quote:
        raise TemplateError(f"unclosed quote in {{{{ {inner} }}}}", line=line)
    parts.append("".join(buf).strip())
    if not parts[0] or any(not p for p in parts):
        raise TemplateError(f"empty expression in {{{{ {inner} }}}}", line=line)
    return parts


def _operand(tokens: list[str], line: int, parser: _Parser) -> tuple[Cond, list[str]]:
    if not tokens:
        raise TemplateError("condition ends too early", line=line)
    tok, rest = tokens[0], tokens[1:]
    parser.cond_term(line)
    if tok == "(":
        parser.cond_enter(line)
        cond, rest = _parse_or(rest, line, parser)
        if not rest or rest[0] != ")":
            raise TemplateError("unbalanced ( in condition", line=line)
        parser.cond_depth -= 1
        return cond, rest[1:]
    if _is_literal(tok):
        return ("lit", tok[1:-1]), rest
    if tok in ("and", "or", "not", "==", "!=", ")"):
        raise TemplateError(f"unexpected {tok!r} in condition", line=line)
    if not _NAME.match(tok):
        raise TemplateError(f"{tok!r} is not a variable name", line=line)
    if not is_known_variable(tok):
        raise TemplateError(f"unknown variable {tok!r}", kind="unknown_variable", line=line)
    # Tested in a condition counts as guarded; no "empty without fallback" report for it.
    parser.out.variables.append(Var(tok, [], True, line))
    return ("var", tok), rest


def _parse_cmp(tokens: list[str], line: int, parser: _Parser) -> tuple[Cond, list[str]]:
    if tokens and tokens[0] == "not":
        parser.cond_enter(line)
        inner, rest = _parse_cmp(tokens[1:], line, parser)
        parser.cond_depth -= 1
        return ("not", inner), rest
    left, rest = _operand(tokens, line, parser)
    if rest and rest[0] in ("==", "!="):
        op = rest[0]
        right, rest = _operand(rest[1:], line, parser)
        return (op, left, right), rest
    return left, rest


def _parse_and(tokens: list[str], line: int, parser: _Parser) -> tuple[Cond, list[str]]:
    left, rest = _parse_cmp(tokens, line, parser)
    while rest and rest[0] == "and":
        right, rest = _parse_cmp(rest[1:], line, parser)
        left = ("and", left, right)
    return left, rest


def _parse_or(tokens: list[str], line: int, parser: _Parser) -> tuple[Cond, list[str]]:
    left, rest = _parse_and(tokens, line, parser)
    while rest and rest[0] == "or":
        right, rest = _parse_and(rest[1:], line, parser)
        left = ("or", left, right)
    return left, rest


def parse(source: str) -> Parsed:
    return _Parser(source).parse()
