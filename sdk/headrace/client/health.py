"""`/health`: whether an API replica answers (`HeadraceClient.health()`)."""

PATH = "/health"
