"""Custom field names that templates can use as {{ custom.<name> }}."""

import re
import unicodedata

# campaigns/template_language._CUSTOM_KEY, repeated here because contacts cannot import
# campaigns; tests/contacts/test_import_views.py renders a key made here in a template.
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


def custom_field_key(name: str, *, fallback: str) -> str:
    """``Company Size`` -> ``company_size``, ``Größe`` -> ``groesse``; a name templates take
    already is kept as it is, and one with no letter or digit left becomes ``fallback``."""
    name = name.strip()
    if KEY.match(name):
        return name
    for letter, spelled in (("ß", "ss"), ("ä", "ae"), ("ö", "oe"), ("ü", "ue")):
        name = name.replace(letter, spelled).replace(letter.upper(), spelled.capitalize())
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")[:64].rstrip("_")
    return key or fallback


def custom_targets(
    targets: list[str], header: list[str], names: list[str] | None = None
) -> list[str]:
    """A column mapping with every custom target as "custom:<key>", each key usable in
    templates and used once: "custom" takes its key from the name typed (``names``) or else
    the column's header ("Company Size" -> company_size); "custom:<name>" from that name.
    The one place keys are made, for the mapping page, the API and saved mappings alike."""
    names = names or [""] * len(targets)
    mapping, taken = [], set()
    for i, target in enumerate(targets):
        if target == "custom" or target.startswith("custom:"):
            typed = target.removeprefix("custom").removeprefix(":") or names[i]
            key = base = custom_field_key(typed.strip() or header[i], fallback=f"column_{i + 1}")
            n = 1
            while key in taken:
                n += 1
                key = f"{base[:60]}_{n}"
            taken.add(key)
            target = f"custom:{key}"
        mapping.append(target)
    return mapping
