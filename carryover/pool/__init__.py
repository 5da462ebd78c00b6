"""The memory pool: schema, records, storage, ranking, redaction, embedding and configuration. Knows
nothing of LSP or capture."""

from carryover.pool.deferred import defer_all

defer_all()
