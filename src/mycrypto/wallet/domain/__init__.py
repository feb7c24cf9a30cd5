"""Pure wallet rules (no I/O): ledger postings, holds, amounts."""
