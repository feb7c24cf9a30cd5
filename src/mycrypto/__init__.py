"""MyCrypto: a spot cryptocurrency exchange platform."""

__version__ = "0.1.0"
