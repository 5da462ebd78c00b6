"""Kept so that ``python -m server`` still starts the language server (now carryover/lsp/)."""
