"""The farm's own tables (public schema), shared by every site."""
from django.db import models
from django.utils import timezone


class ParsedAgent(models.Model):
    """device-detector's reading of one user agent with its client hints, for every worker.

    Parsing an agent never seen costs milliseconds; reading it here costs microseconds per hit in a
    batch's one query, so each agent is parsed once per farm (analytics.tracking.agents), not once
    per worker process nor again after a restart. The key covers the device-detector version, so
    an upgrade reads agents afresh instead of trusting an older reading."""

    key = models.CharField(max_length=32, primary_key=True)  # analytics.tracking.agents.agent_key
    user_agent = models.TextField()
    hints = models.JSONField(default=list, blank=True)  # [[header, value], …] as ingest reads them
    device = models.JSONField()  # {bot, device_type, device_brand, …}: what ingest stores
    detector = models.CharField(max_length=64)  # the device-detector version that parsed it
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.user_agent[:80]
