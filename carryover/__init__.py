"""Carryover: a memory for people who write code (see docs/ARCHITECTURE.md for the code map)."""
