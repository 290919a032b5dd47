"""Reads and non-queue writes, one module per resource."""
