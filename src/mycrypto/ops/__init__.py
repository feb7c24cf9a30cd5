"""Operations: database reports, maintenance, backups, go/no-go checks."""
