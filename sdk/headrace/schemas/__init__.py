"""The API contract: pydantic models that the service validates with and the SDK, worker and CLI
send and read. One module per resource, with its create, read and update models together."""
