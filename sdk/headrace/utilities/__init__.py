"""Helpers a flow script may import by Prefect's module paths (`headrace.utilities.annotations`)."""
