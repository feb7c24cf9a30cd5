"""Fault drills (docs/operations.md, "Fault drills"): one module per drill, shared by tests/e2e/chaos and bench/chaos."""
