"""The language server: the only layer that knows LSP (pygls, lsprotocol)."""
