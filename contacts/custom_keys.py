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
