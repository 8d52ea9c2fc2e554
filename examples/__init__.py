"""Runnable examples: quickstart, desktop_listener, batch_label, pi_dashboard (see the README)."""
