"""What we send back to a browser or a spreadsheet cannot run what someone else wrote: the
public unsubscribe page escapes the address it names, and every CSV download quotes cells a
spreadsheet would run as formulas."""

import pytest

from contacts.models import Suppression
from outreach.channels.email import unsubscribe_token

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
    assert Suppression.objects.filter(channel="email", value=SCRIPT).exists()
