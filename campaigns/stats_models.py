"""Exact dashboard counters. Imported by campaigns/models.py.

Every figure is a plain count kept by campaigns/counters.py in the same transaction as the
change it counts (never eventually consistent); `manage.py rebuild_dashboard_stats`
recomputes them from the live tables.
"""

from django.db import models


class CampaignDayStats(models.Model):
    """Counts per (campaign, day, step, variant). step and variant are ids, 0 for "none":
    enrollment-wide figures (enrolled, contacted, reached) sit on step 0, a reply on the step
    it quoted (Enrollment.replied_to), and otherwise a reply, positive reply or opt-out on
    the last step sent to the enrollment (0 if none was).

    Days (in TIME_ZONE): sent, delivered, bounced by the message's sent day; replied by the
    reply's day; the other figures by the day the enrollment was created.
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="day_stats"
    )
    day = models.DateField()
    step = models.BigIntegerField(default=0, help_text="Step id; 0: no step.")
    variant = models.BigIntegerField(default=0, help_text="TemplateVariant id; 0: none.")
    enrolled = models.IntegerField(default=0)
    contacted = models.IntegerField(default=0, help_text="Enrollments with a message sent.")
    reached = models.IntegerField(default=0, help_text="Enrollments with a message delivered.")
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0, help_text="Messages delivered or read.")
    bounced = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    positive = models.IntegerField(default=0)
    opted_out = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "step", "variant"], name="campaigndaystats_key"
            )
        ]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} {self.day} step {self.step}/{self.variant}"


class CampaignStats(models.Model):
    """The same counts summed over a campaign's days, steps and variants: the overview reads
    one row per campaign. Bumped by the same upserts as CampaignDayStats."""

    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    enrolled = models.IntegerField(default=0)
    contacted = models.IntegerField(default=0)
    reached = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    bounced = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    positive = models.IntegerField(default=0)
    opted_out = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"campaign {self.campaign_id}: {self.enrolled} enrolled, {self.sent} sent"


class CampaignIntentStats(models.Model):
    """Labelled replies from a campaign's contacts, received after they enrolled, per label
    (a rep's correction wins)."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="intent_stats"
    )
    intent = models.CharField(max_length=40)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "intent"], name="campaignintentstats_key")
        ]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} {self.intent}: {self.n}"
