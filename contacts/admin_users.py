"""The User admin, Django's own, plus one rule: unticking "active" ends the user's sessions
and deletes their API tokens (contacts/accounts.py). Unticking "staff status" only closes
the admin site to them; the app pages and the API follow "active" and the role."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from contacts.accounts import user_access_revoke

User = get_user_model()


class RevokingUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_access_revoke(user=obj)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, RevokingUserAdmin)
