"""Pure trading domain logic (no I/O): the matching core."""
