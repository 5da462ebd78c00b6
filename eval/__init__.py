"""Cross-language retrieval evaluation: a development set, a harness and a report."""
