"""Numbered SQL migrations (see docs/database.md); applied by mycrypto.db.migrate."""
