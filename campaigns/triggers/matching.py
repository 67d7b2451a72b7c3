"""Does an engagement's text match a trigger? Keywords by whole word in any case and script;
reps' regular expressions with a size limit and a timeout (the `regex` module), so a
catastrophic pattern cannot stall inbound processing."""

import re
import unicodedata

import regex

MAX_PATTERN = 200
MAX_TEXT = 2000  # a comment or DM longer than this is matched on its start
REGEX_TIMEOUT = 0.05  # seconds
# Scripts written without spaces between words: a keyword matches inside the text.
NO_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u0e00-\u0e7f\uac00-\ud7af]")


def normalize(text: str) -> str:
    """Case-fold (ß -> ss, Σ/ς -> σ) and compose accents the same way on both sides."""
    return unicodedata.normalize("NFC", text).casefold()


def keywords_of(raw: str) -> list[str]:
    parts = re.split(r"[\n,]", raw)
    return [normalize(p.strip()) for p in parts if p.strip()]


def keyword_matches(text: str, keywords: list[str]) -> bool:
    folded = normalize(text[:MAX_TEXT])
    for word in keywords:
        if NO_SPACES.search(word):
            if word in folded:
                return True
        # \w is Unicode-aware: "price" matches "price?" and "PRICE!" but not "priceless".
        elif re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            return True
    return False


def pattern_problem(pattern: str) -> str:
    """Why this pattern cannot be used, or ""."""
    if not pattern:
        return "Give a regular expression."
    if len(pattern) > MAX_PATTERN:
        return f"At most {MAX_PATTERN} characters."
    try:
        regex.compile(pattern, regex.IGNORECASE | regex.V1)
    except regex.error as exc:
        return f"Not a valid regular expression: {exc}"
    return ""


def pattern_matches(pattern: str, text: str) -> bool:
    """False on a timeout: a pathological pattern fails closed instead of hanging a worker."""
    if pattern_problem(pattern):
        return False
    try:
        found = regex.search(
            pattern, text[:MAX_TEXT], regex.IGNORECASE | regex.V1, timeout=REGEX_TIMEOUT
        )
    except TimeoutError:
        return False
    return found is not None
