"""Posting the admin's own forms as a browser would, for the cross-team write tests.

``admin_form`` reads the fields of the page's change form (inputs, selects, textareas,
inline management forms included) with the values the browser would send, so a test
changes only the fields it is about and posts the rest as the admin rendered them.
"""

from html.parser import HTMLParser

from django.test import Client


class _FormReader(HTMLParser):
    """The name/value pairs a browser submits from the admin's ``<form id="…_form">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._multiple = False
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self.data.setdefault(name, []).append(a.get("value", default))
        elif tag == "select" and name:
            self._select, self._multiple, self._first_option = name, "multiple" in a, None
            self.data.setdefault(name, [])
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.data[self._select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            # A single select with nothing selected sends its first option.
            if not self._multiple and not self.data[self._select] and self._first_option:
                self.data[self._select] = [self._first_option]
            self._select = None
        elif tag == "textarea" and self._textarea:
            value = self.data[self._textarea][0]
            self.data[self._textarea] = [value.removeprefix("\n")]
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][0] += data


def admin_form(client: Client, url: str) -> dict[str, list[str]]:
    """The admin form at ``url`` as the browser would post it unchanged."""
    page = client.get(url)
    assert page.status_code == 200, f"GET {url} -> {page.status_code}"
    reader = _FormReader()
    reader.feed(page.content.decode())
    assert reader.data, f"no admin form on {url}"
    return reader.data


def post_admin_form(client: Client, url: str, **changes):
    """GET the admin form at ``url``, change some fields, post it with "Save"."""
    data = admin_form(client, url)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    data["_save"] = ["Save"]
    return client.post(url, data)
