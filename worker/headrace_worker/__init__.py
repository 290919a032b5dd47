"""The headrace pull worker: claims runs of one work pool from the API and runs them.

It talks to the service over HTTP only (`headrace.client.HeadraceClient`), never importing it.
"""

from __future__ import annotations

from headrace_worker.worker import Worker

__all__ = ["Worker"]
