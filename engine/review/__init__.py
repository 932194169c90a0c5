"""The governance rhythm computed from the log alone: review windows, digests, escalation metrics."""
