"""Persistence shell: SQLModel tables, the database engine, the append-only log, the read model."""
