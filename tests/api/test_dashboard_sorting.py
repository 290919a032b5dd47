"""The flow-runs table sorted by each column: keyset pages list every run once, in order.

Runs share creation times, start times and names (ties the id must break), and many have no
start or end time yet (they come last, in either direction). Paging is done as a user does:
following the page's Next links, then its Previous links back.
"""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from typing import Any

import httpx
import pytest

RUNS = 130  # close to three pages of 50
SORTS = ["-created", "created", "-started", "started", "-ended", "ended", "name", "-name"]
COLUMN = {"created": "created", "started": "start_time", "ended": "end_time", "name": "name"}


def make_runs(sql: Any) -> None:
    sql.execute(
        """
        WITH f AS (INSERT INTO flow (name) VALUES ('sorted') RETURNING id),
        base AS (SELECT timestamptz '2026-11-01 00:00+00' AS t),
        runs AS (
            SELECT i, 'run-' || lpad((i % 40)::text, 3, '0') AS name,
                   base.t + (i % 30) * interval '1 second' AS created,
                   CASE WHEN i % 4 = 0 THEN NULL
                        ELSE base.t + (i % 25) * interval '1 minute' END AS start_time
            FROM generate_series(1, :n) AS i, base
        ),
        timed AS (
            SELECT *, CASE WHEN start_time IS NULL OR i % 3 = 0 THEN NULL
                           ELSE start_time + (i % 7) * interval '1 minute' END AS end_time
            FROM runs
        )
        INSERT INTO flow_run (name, flow_id, state_type, state_name, created, start_time,
                              end_time, next_scheduled_start_time)
        SELECT name, f.id,
               CAST(CASE WHEN end_time IS NOT NULL THEN 'COMPLETED'
                         WHEN start_time IS NOT NULL THEN 'RUNNING'
                         ELSE 'SCHEDULED' END AS state_type),
               'x', created, start_time, end_time,
               CASE WHEN start_time IS NULL THEN created END
        FROM timed, f
        """,
        n=RUNS,
    )


def expected_order(sql: Any, sort: str) -> list[str]:
    column = COLUMN[sort.removeprefix("-")]
    descending = sort.startswith("-")
    rows = sql.rows(f"SELECT id, {column} AS value FROM flow_run")
    with_value = sorted(
        (r for r in rows if r["value"] is not None),
        key=lambda r: (r["value"], r["id"]),
        reverse=descending,
    )
    without = sorted(
        (r for r in rows if r["value"] is None), key=lambda r: r["id"], reverse=descending
    )
    return [str(r["id"]) for r in with_value + without]


def read_page(client: httpx.Client, url: str) -> tuple[list[str], dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body = response.text
    rows = body[body.index('<tbody id="run-rows">') :]
    ids = re.findall(r'<tr data-run-id="([^"]+)"', rows[: rows.index("</tbody>")])
    links = {
        rel: html.unescape(href)
        for href, rel in re.findall(r'<a href="([^"]+)" rel="(next|prev)"', body)
    }
    return ids, links


@pytest.mark.parametrize("sort", SORTS)
def test_paging_through_a_sort_order_lists_every_run_once_in_order(
    live_server: Any, sql: Any, sort: str
) -> None:
    make_runs(sql)
    expected = expected_order(sql, sort)
    with httpx.Client(base_url=live_server.url.removesuffix("/api"), timeout=30) as client:
        pages: list[list[str]] = []
        url = f"/runs?sort={sort}"
        while True:
            ids, links = read_page(client, url)
            pages.append(ids)
            if "next" not in links:
                break
            url = "/runs" + links["next"]
        assert [i for page in pages for i in page] == expected
        assert [len(p) for p in pages] == [50, 50, 30]

        # And back again from the last page: the same pages, in reverse.
        back = [ids]
        while "prev" in links:
            ids, links = read_page(client, "/runs" + links["prev"])
            back.append(ids)
        assert back == pages[::-1]


def test_a_sort_the_table_does_not_have_is_refused_with_the_ones_it_has(live_server: Any) -> None:
    dashboard = live_server.url.removesuffix("/api")
    response = httpx.get(f"{dashboard}/runs?sort=priority")
    assert response.status_code == 400
    assert "sort: unknown &#39;priority&#39;; use one of created, -created" in response.text
    cursor_of_another_sort = httpx.get(f"{dashboard}/runs?sort=name&before=abc")
    assert cursor_of_another_sort.status_code == 400
    assert "not a page cursor of this sort order" in cursor_of_another_sort.text


@pytest.mark.parametrize(
    ("sort", "value"), [("name", 5), ("created", None), ("started", ["x"]), ("-name", {})]
)
def test_a_hand_made_cursor_with_a_value_of_the_wrong_type_is_a_400(
    live_server: Any, sort: str, value: object
) -> None:
    dashboard = live_server.url.removesuffix("/api")
    raw = json.dumps([sort, value, str(uuid.uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = httpx.get(f"{dashboard}/runs", params={"sort": sort, "after": cursor})
    assert response.status_code == 400, response.text
    assert "not a page cursor of this sort order" in response.text
