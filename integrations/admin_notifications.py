"""The admin of notifications: group webhooks and the outbox (filled in by the notifications work)."""
