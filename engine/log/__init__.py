"""The append-only, hash-chained, Merkle-tree decision log (docs/log-format.md)."""
