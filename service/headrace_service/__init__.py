"""The headrace API server: REST API, dashboard, background loops, on PostgreSQL."""
