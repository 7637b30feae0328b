"""Roll-up aggregation, report rendering and the background-job glue."""
