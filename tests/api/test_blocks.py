"""Blocks end to end: the SDK's Block classes against a real server and a real Postgres."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, SecretStr
from sqlalchemy import create_engine, pool, text
from typer.testing import CliRunner

from headrace.blocks.core import Block
from headrace.blocks.system import JSON, DateTime, Secret, String
from headrace.cli.main import app
from headrace.client import HeadraceClient
from headrace.client import blocks as blocks_client
from headrace.schemas.api_keys import Scope
from headrace_service.block_crypto import KEY_FILE, BlockCipher
from tests.api.test_auth import make_key
from tests.conftest import serve_app


class Endpoint(BaseModel):
    host: str
    token: SecretStr


class Warehouse(Block):
    """Where the nightly tables go."""

    url: str
    port: int = 5432
    password: SecretStr
    replicas: list[Endpoint] = []


def raw_row(database_url: str, name: str) -> tuple[dict[str, object], bytes | None]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT data, encrypted_data FROM block_document WHERE name = :n"), {"n": name}
        ).one()
    engine.dispose()
    return row[0], (bytes(row[1]) if row[1] is not None else None)


def test_a_user_block_saves_loads_and_its_secrets_are_encrypted_at_rest(
    api_url: str, live_server: object, tmp_path: Path
) -> None:
    block = Warehouse(
        url="postgresql://db",
        password=SecretStr("hunter2-very-secret"),
        replicas=[Endpoint(host="r1", token=SecretStr("tok-r1-secret"))],
    )
    block_id = block.save("prod")

    loaded = Warehouse.load("prod")
    assert loaded.password.get_secret_value() == "hunter2-very-secret"
    assert loaded.replicas[0].token.get_secret_value() == "tok-r1-secret"
    assert loaded.url == "postgresql://db" and loaded.port == 5432
    assert Block.load("warehouse/prod").password.get_secret_value() == "hunter2-very-secret"

    # At rest: the readable column holds only masks; the secrets are in the encrypted column.
    data, encrypted = raw_row(live_server.database_url, "prod")  # type: ignore[attr-defined]
    assert data["password"] == "**********"
    assert data["replicas"] == [{"host": "r1", "token": "**********"}]
    assert data["url"] == "postgresql://db"
    assert encrypted is not None
    assert b"hunter2" not in encrypted and b"tok-r1" not in encrypted
    # ... and the server's key (generated 0600 in its home on first start) opens them.
    key_file = tmp_path / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    clear = BlockCipher([key_file.read_text().strip()]).decrypt(encrypted)
    assert clear["password"] == "hunter2-very-secret"

    with pytest.raises(ValueError, match="overwrite=True"):
        Warehouse(url="x", password=SecretStr("y")).save("prod")
    assert Warehouse(url="other", password=SecretStr("y")).save("prod", overwrite=True) == block_id
    assert Warehouse.load("prod").url == "other"

    Warehouse.delete("prod")
    with pytest.raises(ValueError, match="no warehouse block named 'prod'"):
        Warehouse.load("prod")


def test_built_in_blocks_and_async_forms(api_url: str) -> None:
    Secret(value="sk-123").save("api-token")
    Secret(value={"user": "u", "password": "p"}).save("login")
    JSON(value={"a": [1, 2]}).save("cfg")
    String(value="hello").save("greeting")
    when = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
    DateTime(value=when).save("cutoff")

    assert Secret.load("api-token").get() == "sk-123"
    assert Secret.load("login").get() == {"user": "u", "password": "p"}
    assert JSON.load("cfg").value == {"a": [1, 2]}
    assert String.load("greeting").value == "hello"
    assert DateTime.load("cutoff").value == when
    assert DateTime.get_block_type_slug() == "date-time"

    async def in_async_code() -> str:
        # As in Prefect: where an event loop runs, load/save/delete return awaitables.
        await String(value="async").save("greeting", overwrite=True)
        loaded = await String.load("greeting")
        also = await String.aload("greeting")
        await String.adelete("greeting")
        return loaded.value + also.value

    assert asyncio.run(in_async_code()) == "asyncasync"
    with pytest.raises(ValueError):
        String.load("greeting")

    with HeadraceClient() as client:
        types = {t.slug: t for t in blocks_client.list_types(client)}
    assert {"secret", "json", "string", "date-time"} <= set(types)
    assert types["secret"].document_count == 2


@pytest.fixture
def server_settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return dict(getattr(request, "param", {}))


@pytest.mark.parametrize(
    "server_settings_overrides",
    [{"auth_enabled": True}],
    indirect=True,
)
def test_read_keys_see_secrets_masked_worker_keys_in_clear(
    live_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = live_server.url  # type: ignore[attr-defined]
    keys = {
        scope.value: make_key(live_server.database_url, scope)  # type: ignore[attr-defined]
        for scope in Scope
    }
    with HeadraceClient(url, api_key=keys["worker"]) as worker:
        monkeypatch.setenv("HEADRACE_API_URL", url)
        monkeypatch.setenv("HEADRACE_API_KEY", keys["worker"])
        from headrace.settings import client_settings

        client_settings.cache_clear()
        Secret(value="s3cr3t-value").save("db-password")
        assert blocks_client.read(worker, "secret", "db-password").data["value"] == "s3cr3t-value"

    with HeadraceClient(url, api_key=keys["read"]) as reader:
        document = blocks_client.read(reader, "secret", "db-password")
        assert document.data["value"] == "**********" and document.secrets_masked
        assert "s3cr3t" not in str(blocks_client.list_documents(reader))
    monkeypatch.setenv("HEADRACE_API_KEY", keys["read"])
    client_settings.cache_clear()
    with pytest.raises(PermissionError, match="worker or admin key"):
        Secret.load("db-password")
    # The dashboard, even to an admin, never shows a secret.
    root = url.removesuffix("/api")
    page = httpx.get(
        f"{root}/blocks/secret/db-password", cookies={"headrace_api_key": keys["admin"]}
    )
    assert page.status_code == 200 and "s3cr3t" not in page.text


def test_bad_block_input_names_what_to_fix(http: httpx.Client, api_url: str) -> None:
    Warehouse(url="u", password=SecretStr("p")).save("ok")
    unknown = http.post(
        "/block_documents", json={"block_type_slug": "nope", "name": "x", "data": {}}
    )
    assert unknown.status_code == 422
    assert "body.block_type_slug" in unknown.json()["detail"]
    wrong = http.post(
        "/block_documents",
        json={
            "block_type_slug": "warehouse",
            "name": "bad",
            "data": {"url": "u", "password": "p", "port": "not a number"},
        },
    )
    assert wrong.status_code == 422
    assert "body.data.port" in wrong.json()["detail"]
    missing = http.post(
        "/block_documents", json={"block_type_slug": "warehouse", "name": "bad", "data": {}}
    )
    assert missing.status_code == 422 and "body.data.url" in missing.json()["detail"]
    slug = http.put("/block_types/Not_A_Slug", json={"name": "x", "json_schema": {}})
    assert slug.status_code == 422 and "slug" in slug.json()["detail"]
    schema = http.put("/block_types/bad-schema", json={"name": "x", "json_schema": {"type": 5}})
    assert schema.status_code == 422 and "body.json_schema" in schema.json()["detail"]
    taken = http.post(
        "/block_documents",
        json={"block_type_slug": "warehouse", "name": "ok", "data": {"url": "u", "password": "p"}},
    )
    assert taken.status_code == 409 and "overwrite" in taken.json()["detail"]
    assert http.get("/block_documents/warehouse/absent").status_code == 404


def test_a_new_key_in_front_reencrypts_every_secret_on_start(
    database_url: str, tmp_path: Path
) -> None:
    old, new = BlockCipher.generate_key(), BlockCipher.generate_key()

    def serve(keys: str) -> Iterator[httpx.Client]:
        with (
            serve_app(database_url, home=tmp_path, block_encryption_keys=keys) as server,
            httpx.Client(base_url=server.url) as http,
        ):
            yield http

    with contextmanager(serve)(old) as app:
        schema = Warehouse.model_json_schema()
        app.put("/block_types/warehouse", json={"name": "Warehouse", "json_schema": schema})
        saved = app.post(
            "/block_documents",
            json={
                "block_type_slug": "warehouse",
                "name": "w",
                "data": {"url": "u", "password": "p1"},
            },
        )
        assert saved.status_code == 201, saved.text
    with contextmanager(serve)(f"{new},{old}"):
        pass  # the start re-encrypts with `new`
    with contextmanager(serve)(new) as app:
        assert app.get("/block_documents/warehouse/w").json()["data"]["password"] == "p1"
    with contextmanager(serve)(old) as app:
        refused = app.get("/block_documents/warehouse/w")
        assert refused.status_code == 409
        assert "HEADRACE_BLOCK_ENCRYPTION_KEYS" in refused.json()["detail"]


def test_the_cli_lists_inspects_and_deletes_blocks_secrets_masked(api_url: str) -> None:
    Warehouse(url="postgresql://db", password=SecretStr("cli-hidden-pw")).save("prod")
    runner = CliRunner()
    listed = runner.invoke(app, ["block", "ls", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [b["name"] for b in json.loads(listed.output)] == ["prod"]
    shown = runner.invoke(app, ["block", "inspect", "warehouse/prod"])
    assert shown.exit_code == 0 and "postgresql://db" in shown.output
    assert "cli-hidden-pw" not in shown.output and "**********" in shown.output
    as_json = runner.invoke(app, ["block", "inspect", "warehouse/prod", "--json"])
    assert json.loads(as_json.output)["data"]["password"] == "**********"
    types = runner.invoke(app, ["block", "type", "ls", "--json"])
    assert {"slug": "warehouse", "count": 1} in [
        {"slug": t["slug"], "count": t["document_count"]} for t in json.loads(types.output)
    ]
    bad = runner.invoke(app, ["block", "inspect", "no-slash"])
    assert bad.exit_code == 2 and "TYPE-SLUG/NAME" in bad.output
    absent = runner.invoke(app, ["block", "delete", "warehouse/absent"])
    assert absent.exit_code != 0 and "no warehouse block named 'absent'" in absent.output
    assert runner.invoke(app, ["block", "delete", "warehouse/prod"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["block", "ls", "--json"]).output) == []


def test_a_loaded_secret_is_masked_in_the_run_logs(api_url: str, client: HeadraceClient) -> None:
    from headrace import flow, get_run_logger

    Secret(value="tok-do-not-log-me").save("token")

    @flow(log_prints=True)
    def leaky() -> None:
        token = Secret.load("token").get()
        print(f"calling the API with {token}")
        get_run_logger().info("token=%s", token)

    leaky()
    run = client.get_json("/flow_runs", params={"flow_name": "leaky"})["items"][0]
    deadline = time.monotonic() + 10
    lines: list[str] = []
    while len(lines) < 2 and time.monotonic() < deadline:
        logs = client.get_json(f"/flow_runs/{run['id']}/logs")
        items = logs["items"] if isinstance(logs, dict) else logs
        lines = [x["message"] for x in items if "token" in x["message"] or "API" in x["message"]]
        time.sleep(0.1)
    assert lines and all("tok-do-not-log-me" not in line for line in lines)
    assert any("calling the API with **********" in line for line in lines)
