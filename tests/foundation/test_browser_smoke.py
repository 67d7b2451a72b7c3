import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_user_logs_in_and_sees_the_operations_admin(logged_in_page):
    page = logged_in_page
    assert page.locator("h1").first.inner_text() == "Operations"
    page.click("#content-main a[href$='/campaigns/campaign/']")
    assert "Select campaign to change" in page.content()
