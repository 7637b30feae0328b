"""Background tasks of form-teacher links: reminders (being written)."""
