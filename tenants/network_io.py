"""Network and school-year structure import/export (placeholder until the import work lands)."""
