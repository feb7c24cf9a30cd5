"""Pure alert rules: conditions and their bounds, and the per-market watch that turns trades into firings."""
