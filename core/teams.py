"""Teams: which reps a manager sees. Roles themselves are Django groups (core/access.py)."""

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_teams"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        db_table = "contacts_team"  # made by contacts before core existed
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
