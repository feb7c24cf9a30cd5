"""Test helpers shared by every tier (factories, real-service fixtures)."""
