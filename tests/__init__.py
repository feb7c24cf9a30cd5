"""MyCrypto test suite."""
