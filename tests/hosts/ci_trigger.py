"""What a CI job does over the REST API: create N runs of a deployment, wait for each to end,
print {state: count} as JSON. Runs on the CI host (HEADRACE_API_URL, HEADRACE_API_KEY).

python ci_trigger.py FLOW/NAME COUNT PARAMETERS_JSON   (parameter "n" is set to 0..COUNT-1)
"""

from __future__ import annotations

import collections
import json
import os
import sys

import httpx

deployment, count, parameters = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
flow_name, name = deployment.split("/")
verify: object = True
if ca := os.environ.get("HEADRACE_API_CA_FILE"):
    import ssl

    verify = ssl.create_default_context(cafile=ca)
with httpx.Client(
    base_url=os.environ["HEADRACE_API_URL"],
    headers={"Authorization": f"Bearer {os.environ['HEADRACE_API_KEY']}"},
    timeout=60,
    verify=verify,  # type: ignore[arg-type]
) as api:
    ids = []
    for n in range(count):
        made = api.post(
            f"/deployments/name/{flow_name}/{name}/runs",
            json={"parameters": {**parameters, "n": n}},
        )
        made.raise_for_status()
        ids.append(made.json()["id"])
    states: collections.Counter[str] = collections.Counter()
    for run_id in ids:
        while True:
            run = api.get(f"/flow_runs/{run_id}/wait", params={"timeout": 30}).json()
            if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
        states[run["state_type"]] += 1
print(json.dumps(states))
