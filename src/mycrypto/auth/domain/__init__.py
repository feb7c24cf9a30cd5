"""Pure auth rules (no I/O)."""
