"""A row per long-running process kind/node, stamped while it is alive (read by GET /health/)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    # "beat" or "worker:<nodename>": a worker per node, so two workers do not mask each other.
    name = models.CharField(max_length=200, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
