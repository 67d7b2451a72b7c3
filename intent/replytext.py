"""What the person wrote in a reply: the new text above the quoted history and the signature.

One parser for everything that reads replies: the mail parser (outreach/mailparse.py, what is
stored) and the intent classifier (intent/rules.py, what it reads) both call
reply_text(), so the stored reply and the classified text never disagree.

Quote and signature detection is mail-parser-reply's (English, German, French, Spanish and
more: "On … wrote:", "Am … schrieb …:", Outlook's "Von:/Gesendet:/An:" and "From:/Sent:"
blocks, "-----Original Message-----", "-- " and closing formulas). HTML-only mail is turned
into text by inscriptis after the clients' quote containers are dropped. Our own table below
holds only what the library misses.
"""

import re
from html import unescape

import lxml.html
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from lxml import etree
from mailparser_reply import EmailMessage

LANGUAGES = ["de", "en", "fr", "es"]
# The library's attribution patterns ("On … wrote:", "Am … schrieb …:", "Le … a écrit :",
# "El … escribió:") backtrack quadratically on long lines that start like one. An attribution
# ends in ":" on its line or the next (wrapped) and is never this long: other such lines are
# hidden from those patterns behind an invisible mark, removed again from the result. Longer
# text than MAX_TEXT is no one's new reply: the rest is not parsed.
LONG_LINE = 200
MAX_TEXT = 50_000
OPENER = re.compile(r"^[ \t>]*(on|am|le|el)\s", re.I)
MARK = "\u2063"

# Where quoted history starts that mail-parser-reply 1.36 does not see: the German Outlook
# separator, forwarded-message markers, and a quoted ">" line (the old mail parser cut there).
QUOTE_START = re.compile(
    r"^[ \t>]*(-{2,}\s*(Ursprüngliche Nachricht|Original-Nachricht|Weitergeleitete Nachricht|"
    r"Message d'origine|Mensaje original|Forwarded message)\s*-{2,}[ \t]*$|>)",
    re.I | re.M,
)
# Signature starts the library misses: German and English one-liners and phone footers.
SIGNATURE_START = re.compile(
    r"^[ \t]*(--[ \t]*|(lg|vg|mfg|gruß|gruss|beste grüße|cheers|thanks|danke),?|"
    r"von meinem .{1,40} gesendet|sent from my .{1,40}|"
    r"(mit )?(freundlichen|besten|herzlichen|viele|liebe)n? grüße?n?,?)[ \t]*$",
    re.I | re.M,
)
# A signature block without a "-- " line or closing formula: a last paragraph with a labelled
# phone line ("Direct: +1 555 …", "Tel. 0170 …", "M: …").
PHONE_LINE = re.compile(
    r"^[ \t]*(tel|telefon|phone|mobile?|mobil|handy|direct|direkt|fax|office|[tmf])\.?:?[ \t]*"
    r"\+?[\d ()/.-]{6,}$",
    re.I | re.M,
)
# HTML quote containers of the common clients: Apple Mail and Thunderbird (blockquote
# type=cite), Gmail (gmail_quote), Yahoo (yahoo_quoted), Thunderbird's attribution line
# (moz-cite-prefix). Outlook's header block (divRplyFwdMsg, or the bordered "Von:/From:"
# block) starts the history: it and everything after it go.
DROP = (
    "//blockquote[@type='cite']|//*[contains(concat(' ', normalize-space(@class), ' '), "
    "' gmail_quote ')]|//*[contains(@class, 'yahoo_quoted')]|"
    "//*[contains(@class, 'moz-cite-prefix')]"
)
OUTLOOK_HEADER = "//*[@id='divRplyFwdMsg']|//*[@id='appendonsend']"
# lxml refuses a str that declares its own encoding; the mail part is already decoded.
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.I)


def reply_text(text: str) -> str:
    """The new part of a plain-text reply: quoted history and signature cut."""
    text = (text or "").replace("\r\n", "\n")
    cut = QUOTE_START.search(text)
    if cut:
        text = text[: cut.start()]
    lines = text[:MAX_TEXT].split("\n")
    ends = [line.rstrip().endswith(":") for line in lines] + [False]
    marked = "\n".join(
        MARK + line
        if OPENER.match(line) and (len(line) > LONG_LINE or not (ends[i] or ends[i + 1]))
        else line
        for i, line in enumerate(lines)
    )
    parsed = EmailMessage(text=marked, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    first = next((r for r in parsed.replies if r.body), None)
    new = (first.body if first else text.strip()).replace(MARK, "")
    # The library cuts at a closing formula only below the first line; so do we.
    head, _, rest = new.partition("\n")
    cut = SIGNATURE_START.search(rest)
    if cut:
        rest = rest[: cut.start()]
    new = f"{head}\n{rest}".strip()
    paragraphs = re.split(r"\n[ \t]*\n", new)
    if len(paragraphs) > 1 and PHONE_LINE.search(paragraphs[-1]):
        new = "\n\n".join(paragraphs[:-1]).strip()
    return new


def html_text(html: str) -> str:
    """An HTML mail body as text, with the clients' quoted history dropped first."""
    html = XML_DECLARATION.sub("", html or "")
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):  # empty, or nothing lxml can read
        return _tags_stripped(html)
    for node in tree.xpath(DROP):
        _drop(node)
    for header in tree.xpath(OUTLOOK_HEADER)[:1]:
        _drop_from(header)
    text = get_text(lxml.html.tostring(tree, encoding="unicode"), ParserConfig()).strip()
    # libxml2 gives up on very deep nesting and returns an empty tree: keep the words.
    return text or _tags_stripped(html)


def _tags_stripped(html: str) -> str:
    text = re.sub(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", " ", html, flags=re.S | re.I)
    text = unescape(re.sub(r"<[^>]*>", " ", text))
    return re.sub(r"[ \t]+", " ", text).strip()


def _drop(node) -> None:
    parent = node.getparent()
    if parent is None:
        return
    # Keep the text that follows the dropped element (lxml stores it on the element).
    if node.tail and node.tail.strip():
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


def _drop_from(node) -> None:
    """Drop node and everything after it in document order: Outlook puts the quoted mail
    after its header block, as siblings of the block or of one of its ancestors."""
    for current in [node, *node.iterancestors()]:
        parent = current.getparent()
        if parent is None or current.tag == "body":
            break
        for sibling in list(current.itersiblings()):
            parent.remove(sibling)
        current.tail = None
    node.getparent().remove(node)
