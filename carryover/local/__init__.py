"""The local socket between the command line and a running daemon: the read commands (search, show,
list) as one function both sides call, the request and answer on the wire, and the client.

Nothing here imports LSP (the serving side is carryover/lsp/local_socket.py) or LanceDB: the
client is what ``carryover search`` imports before it knows whether a daemon answers.
"""
