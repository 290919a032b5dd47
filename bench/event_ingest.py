"""Events: ingest rate through the API, and filter latency with many events stored.

    .venv/bin/python bench/event_ingest.py [--events 100000] [--batch 500] [--senders 4]
                                           [--stored 1000000] [--requests 200]

Starts its own `headrace server start` (embedded PostgreSQL, see _stack.py), then:
1. Ingest: `--senders` processes POST `/api/event_feed` batches of `--batch` events (a name of
   one of 20, a resource with 3 labels, 2 related resources, a payload of 5 fields) until
   `--events` are stored: events per second, wall clock from the first request to the last
   answer, checked against the row count in the database.
2. Filter: tops the table up to `--stored` events with one INSERT ... SELECT generate_series
   (spread over 7 days, 1,000 resources, 20 names), VACUUM ANALYZE, then times `--requests`
   GET `/api/event_feed` (limit 100) over HTTP, cycling through five filters: name prefix,
   resource id, label, related id, name prefix within one hour: p50/p95/p99 in ms, per filter
   and overall.
Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from _stack import bench_stack, percentile
from sqlalchemy import create_engine, text

NAMES = [
    f"bench.{kind}.{verb}"
    for kind in ("table", "job", "file", "model")
    for verb in ("started", "finished", "failed", "retried", "skipped")
]


def event(i: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event": NAMES[i % len(NAMES)],
        "resource": {
            "headrace.resource.id": f"bench.resource.{i % 1000}",
            "headrace.resource.name": f"resource {i % 1000}",
            "team": ("data", "ml", "ops")[i % 3],
        },
        "related": [
            {"headrace.resource.id": f"bench.flow.{i % 10}", "headrace.resource.role": "flow"},
            {"headrace.resource.id": f"headrace.tag.t{i % 5}", "headrace.resource.role": "tag"},
        ],
        "payload": {
            "rows": i,
            "seconds": i / 1000,
            "ok": i % 7 != 0,
            "file": f"part-{i}.csv",
            "attempt": 1,
        },
    }


def sender(url: str, batches: list[tuple[int, int]], ready: Any, out: Any) -> None:
    bodies = [json.dumps({"events": [event(i) for i in range(a, b)]}) for a, b in batches]
    with httpx.Client(timeout=120) as http:
        ready.wait()
        accepted = 0
        for body in bodies:
            answer = http.post(
                url + "/event_feed", content=body, headers={"content-type": "application/json"}
            )
            answer.raise_for_status()
            accepted += answer.json()["accepted"]
    out.put(accepted)


def ingest(url: str, database_url: str, total: int, batch: int, senders: int) -> None:
    ranges = [(a, min(a + batch, total)) for a in range(0, total, batch)]
    ready = multiprocessing.Barrier(senders + 1)
    out: Any = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=sender, args=(url, ranges[k::senders], ready, out))
        for k in range(senders)
    ]
    for p in procs:
        p.start()
    ready.wait()  # the bodies are built before the clock starts
    started = time.perf_counter()
    accepted = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM event WHERE event LIKE 'bench.%'"))
        count = stored.scalar_one()
    engine.dispose()
    if accepted != total or count != total:
        raise SystemExit(f"sent {total}, accepted {accepted}, stored {count}")
    print(
        json.dumps(
            {
                "figure": "ingest",
                "events": total,
                "batch": batch,
                "senders": senders,
                "seconds": round(elapsed, 2),
                "events_per_s": round(total / elapsed),
            }
        )
    )


FILL = text(
    """
    INSERT INTO event (id, event, occurred, resource_id, resource, related, related_ids, payload)
    SELECT gen_random_uuid(), 'bench.' || (ARRAY['table','job','file','model'])[1 + i % 4]
               || '.' || (ARRAY['started','finished','failed','retried','skipped'])[1 + i % 5],
           now() - make_interval(secs => (i % 604800)),
           'bench.resource.' || (i % 1000),
           jsonb_build_object('headrace.resource.id', 'bench.resource.' || (i % 1000),
                              'team', (ARRAY['data','ml','ops'])[1 + i % 3]),
           jsonb_build_array(jsonb_build_object(
               'headrace.resource.id', 'bench.flow.' || (i % 10),
               'headrace.resource.role', 'flow')),
           ARRAY['bench.flow.' || (i % 10)],
           jsonb_build_object('rows', i)
    FROM generate_series(1, :n) i
    """
)


def fill(database_url: str, stored: int) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
        started = time.perf_counter()
        missing = max(0, stored - have)
        for _ in range(0, missing, 200_000):
            conn.execute(FILL, {"n": min(200_000, missing)})
            missing -= 200_000
        conn.execute(text("VACUUM ANALYZE event"))
        total = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
    engine.dispose()
    print(
        json.dumps(
            {
                "figure": "fill",
                "events_stored": total,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def filters() -> list[tuple[str, dict[str, Any]]]:
    hour_ago = datetime.now(UTC) - timedelta(hours=3)
    return [
        ("name_prefix", {"name": "bench.job."}),
        ("resource", {"resource": "bench.resource.417"}),
        ("label", {"label": "team=ml"}),
        ("related", {"related": "bench.flow.3"}),
        (
            "name_in_hour",
            {
                "name": "bench.file.",
                "since": hour_ago.isoformat(),
                "until": (hour_ago + timedelta(hours=1)).isoformat(),
            },
        ),
    ]


def filter_latency(http: httpx.Client, requests: int) -> None:
    shapes = filters()
    per: dict[str, list[float]] = {name: [] for name, _ in shapes}
    for _name, params in shapes:  # warm up
        http.get("/event_feed", params=params).raise_for_status()
    for k in range(requests):
        name, params = shapes[k % len(shapes)]
        started = time.perf_counter()
        answer = http.get("/event_feed", params={**params, "limit": 100})
        per[name].append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        if not answer.json()["items"]:
            raise SystemExit(f"filter {name} found nothing")
    everything = [v for values in per.values() for v in values]
    for name, values in [*per.items(), ("all", everything)]:
        print(
            json.dumps(
                {
                    "figure": "filter",
                    "filter": name,
                    "requests": len(values),
                    "p50_ms": round(percentile(values, 0.5), 1),
                    "p95_ms": round(percentile(values, 0.95), 1),
                    "p99_ms": round(percentile(values, 0.99), 1),
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with bench_stack() as stack:
        ingest(stack.url, stack.database_url, args.events, args.batch, args.senders)
        fill(stack.database_url, args.stored)
        filter_latency(stack.http, args.requests)


if __name__ == "__main__":
    main()
