"""Package data of the auth service (the common-password list)."""
