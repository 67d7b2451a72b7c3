from django.contrib import admin, messages
from django.utils.translation import ngettext

from core.access import ScopedAdminMixin
from deliverability.access import domains_visible_to
from deliverability.models import SendingDomain
from deliverability.services import domain_check, domain_key_generate


@admin.register(SendingDomain)
class SendingDomainAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The pages at /deliverability/domains/ show the records in words; here the fields."""

    visible_to = domains_visible_to
    list_display = ["domain", "team", "strict", "signing", "checked_at"]
    list_filter = ["strict", "signing"]
    search_fields = ["domain"]
    fields = ["domain", "team", "strict", "dkim_selector", "dkim_domain", "signing"]
    actions = ["check_now", "generate_key"]

    @admin.action(description="Check the DNS records now")
    def check_now(self, request, queryset) -> None:
        count = 0
        for domain in queryset:
            domain_check(domain=domain)
            count += 1
        text = ngettext("%(n)d domain checked.", "%(n)d domains checked.", count) % {"n": count}
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(description="Generate a new DKIM key", permissions=["change"])
    def generate_key(self, request, queryset) -> None:
        for domain in queryset:
            domain_key_generate(domain=domain, actor=request.user)
        self.message_user(
            request,
            "New keys: publish each DKIM record shown on the domain's page.",
            messages.WARNING,
        )
