"""Framework-free building blocks shared by every domain package: the database and the audit log."""
