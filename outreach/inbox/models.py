"""Inbox state kept beside Conversation (not on it) so the send path's model stays small.

Imported at the bottom of outreach/models.py so Django registers these models.
"""

from django.conf import settings
from django.db import models


class ConversationState(models.Model):
    """What reps did with a conversation: read, snoozed, resolved, and the latest intent."""

    conversation = models.OneToOneField(
        "outreach.Conversation", on_delete=models.CASCADE, related_name="inbox"
    )
    read_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The label of the latest inbound message, copied here so the inbox filters on one join.
    intent = models.CharField(max_length=20, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"inbox state of conversation {self.conversation_id}"


class ConversationNote(models.Model):
    """An internal note; never sent to the contact."""

    conversation = models.ForeignKey(
        "outreach.Conversation", on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on conversation {self.conversation_id}"


class MessageIntent(models.Model):
    """A classifier's label for one inbound message, and a rep's correction if any.

    The original label stays next to the correction, so corrections measure the classifier.
    """

    class Label(models.TextChoices):
        INTERESTED = "interested", "Interested"
        NOT_NOW = "not_now", "Not now"
        NOT_INTERESTED = "not_interested", "Not interested"
        WRONG_PERSON = "wrong_person", "Wrong person"
        OUT_OF_OFFICE = "out_of_office", "Out of office"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe"
        BOUNCE = "bounce", "Bounce"
        OTHER = "other", "Other"

    message = models.OneToOneField(
        "outreach.Message", on_delete=models.CASCADE, related_name="intent"
    )
    label = models.CharField(max_length=20, choices=Label.choices)
    return_date = models.DateField(null=True, blank=True, help_text="Out of office: back on.")
    rule = models.CharField(max_length=100, blank=True, help_text="Which rule decided.")
    classifier = models.CharField(max_length=200, blank=True)
    corrected_label = models.CharField(max_length=20, choices=Label.choices, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"message {self.message_id}: {self.effective_label}"

    @property
    def effective_label(self) -> str:
        return self.corrected_label or self.label


class SavedReply(models.Model):
    """A canned answer a rep inserts in the reply box, rendered for the contact with the
    same variables and fallbacks as campaign templates ({{ first_name|default:"there" }})."""

    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: shared by every team.",
    )
    name = models.CharField(max_length=100)
    body = models.TextField(max_length=4000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.name
