"""Auth service: users, credentials, sessions, 2FA, API keys, roles and the audit log."""
