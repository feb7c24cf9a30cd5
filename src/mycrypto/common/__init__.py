"""Cross-cutting building blocks shared by every service: errors, money, logging, HTTP plumbing."""
