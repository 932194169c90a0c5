"""Notifications through a transactional outbox: webhook, Slack-compatible webhook, email."""
