import io

import pytest
from openpyxl import load_workbook

from contacts.export import export_csv_lines, export_xlsx, neutralize
from contacts.models import Contact, Identity

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("danger", ["=1+1", "+49 30", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_neutralized(danger):
    assert neutralize(danger) == "'" + danger


def test_export_csv_neutralizes_every_cell_and_lists_identities():
    c = Contact.objects.create(first_name='=HYPERLINK("http://evil")', company="@corp")
    Identity.objects.create(contact=c, channel="email", value="a@example.com")
    Identity.objects.create(contact=c, channel="phone", value="+4915112345678")
    lines = "".join(export_csv_lines(Contact.objects.all())).splitlines()
    assert lines[0].startswith("id,first_name,last_name,company")
    assert "'=HYPERLINK" in lines[1] and ",'@corp," in lines[1]
    assert "'+4915112345678" in lines[1] and "a@example.com" in lines[1]


def test_export_xlsx_writes_text_not_formulas():
    Contact.objects.create(first_name="=2+2")
    out = io.BytesIO()
    export_xlsx(Contact.objects.all(), out)
    ws = load_workbook(io.BytesIO(out.getvalue())).active
    assert ws["B2"].value == "'=2+2"
    assert ws["B2"].data_type == "s"


def test_admin_export_action_downloads_csv(admin_client):
    c = Contact.objects.create(first_name="Ann")
    response = admin_client.post(
        "/admin/contacts/contact/", {"action": "export_csv", "_selected_action": [c.pk]}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert b"Ann" in b"".join(response.streaming_content)
