"""PostgreSQL access: the connection pool and unit of work, the embedded server, and migrations."""
