"""Background tasks of the report work (being written)."""
