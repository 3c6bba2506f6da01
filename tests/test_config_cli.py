"""Settings (flags beat environment beat defaults, bad values refused clearly)
and ``grover serve`` as a real subprocess: banner, health, readiness, JSON
logs, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol.client import Client
from protocol.errors import CloseCode
from server import cli
from server.config import RateRule, Settings, env_name, from_argv
from tests.conftest import register
from tests.support import REPO, GroverProcess
from tests.test_gateway import wait_for

# ------------------------------------------------------------------ settings


def test_flags_beat_environment_beat_defaults() -> None:
    environ = {
        "GROVER_PORT": "9002",
        "GROVER_SIDECAR_PORT": "9003",
        "GROVER_HELLO_TIMEOUT": "2.5",
        "GROVER_RATE_REQUEST": "1/2",
        "GROVER_RATE_CONNECT": "3/4",
        "GROVER_DATA_DIR": "/srv/grover",
        "GROVER_MONGO_URL": "mongodb://db.internal:27017",
        "GROVER_LOG_LEVEL": "ERROR",
    }
    settings = from_argv(
        ["--port", "9001", "--rate-request", "50/100", "--log-level", "DEBUG"], environ
    )
    # Flags win.
    assert settings.port == 9001
    assert settings.rate_request == RateRule(50, 100)
    assert settings.log_level == "DEBUG"
    # The environment fills what the flags do not say.
    assert settings.sidecar_port == 9003
    assert settings.hello_timeout == 2.5
    assert settings.rate_connect == RateRule(3, 4)
    assert settings.data_dir == Path("/srv/grover")
    assert settings.mongo_url == "mongodb://db.internal:27017"
    # Defaults fill the rest.
    defaults = Settings()
    assert settings.outbox_size == defaults.outbox_size == 2048
    assert settings.rate_login_ip == defaults.rate_login_ip
    assert settings.token_ttl == 7 * 24 * 3600
    assert settings.redis_url is None


def test_no_flags_and_no_environment_give_the_defaults() -> None:
    assert from_argv([], {}) == Settings()


def _text(value: Any) -> str:
    return str(value)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_has_a_flag_and_a_variable(field: str) -> None:
    default = getattr(Settings(), field)
    if default is None or default == "":
        value = {"mongo_url": "mongodb://x", "redis_url": "redis://x"}.get(field, "something")
    else:
        value = _text(default)
    flag = "--" + field.replace("_", "-")
    by_flag = from_argv([flag, value], {})
    by_env = from_argv([], {env_name(field): value})
    assert getattr(by_flag, field) == getattr(by_env, field)
    assert _text(getattr(by_flag, field)) == value


@pytest.mark.parametrize(
    ("text", "rule"),
    [("5", RateRule(5, 5)), ("0.5/10", RateRule(0.5, 10)), ("20/40", RateRule(20, 40))],
)
def test_rate_rules_parse(text: str, rule: RateRule) -> None:
    assert RateRule.parse(text) == rule
    assert RateRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    ("argv", "environ", "names"),
    [
        (["--port", "eighty"], {}, "--port"),
        ([], {"GROVER_PORT": "eighty"}, "GROVER_PORT"),
        (["--port", "70000"], {}, "--port"),
        (["--sidecar-port", "-1"], {}, "--sidecar-port"),
        (["--hello-timeout", "soon"], {}, "--hello-timeout"),
        (["--hello-timeout", "0"], {}, "--hello-timeout"),
        ([], {"GROVER_ASK_TIMEOUT": "-3"}, "GROVER_ASK_TIMEOUT"),
        (["--shutdown-grace", "nan"], {}, "--shutdown-grace"),
        (["--outbox-size", "0"], {}, "--outbox-size"),
        (["--resume-buffer", "1.5"], {}, "--resume-buffer"),
        (["--rate-connect", "fast"], {}, "--rate-connect"),
        (["--rate-connect", "0/10"], {}, "--rate-connect"),
        (["--rate-connect", "10/0.5"], {}, "--rate-connect"),
        ([], {"GROVER_RATE_REQUEST": "nan/nan"}, "GROVER_RATE_REQUEST"),
        ([], {"GROVER_ABUSE_STRIKES": "inf"}, "GROVER_ABUSE_STRIKES"),
        (["--log-level", "LOUD"], {}, "--log-level"),
        ([], {"GROVER_ARGON2_MEMORY_KIB": "8"}, "GROVER_ARGON2_MEMORY_KIB"),
    ],
)
def test_bad_value_is_refused_naming_the_flag_or_variable(
    argv: list[str], environ: dict[str, str], names: str
) -> None:
    with pytest.raises(ValueError, match=f"^{names}: "):
        from_argv(argv, environ)


def test_a_bad_variable_under_a_good_flag_is_not_read() -> None:
    """A flag replaces the variable, so a bad variable under a good flag is
    never read; only what is used must parse."""
    settings = from_argv(["--port", "9000"], {"GROVER_PORT": "nonsense"})
    assert settings.port == 9000


def test_cli_reports_a_bad_value_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--rate-login-ip", "lots"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--rate-login-ip" in err and "Traceback" not in err


def test_serve_refuses_a_bad_variable_as_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "GROVER_LOG_LEVEL": "chatty"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "GROVER_LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------ grover serve


@pytest.fixture
async def served(tmp_path: Path) -> Any:
    """``grover serve`` as a subprocess at INFO; stopped (by pid) at teardown."""
    process = GroverProcess(tmp_path / "node", GROVER_LOG_LEVEL="INFO")
    await asyncio.to_thread(process.start)
    yield process
    await asyncio.to_thread(process.stop)


async def test_serve_prints_where_to_connect_and_answers_health(served: GroverProcess) -> None:
    banner = served.output()
    assert f"websocket: ws://127.0.0.1:{served.port}" in banner
    assert f"sidecar:   http://127.0.0.1:{served.sidecar_port}" in banner
    assert str(served.data_dir / "grover.sqlite3") in banner
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/readyz"):
            async with http.get(f"http://127.0.0.1:{served.sidecar_port}{path}") as response:
                assert response.status == 200, path
                body = await response.json()
        assert body["accepting"] is True and body["store"] is True


async def test_serve_logs_json_and_stops_gracefully_on_sigterm(served: GroverProcess) -> None:
    client = Client(reconnect=False)
    await client.connect(served.url)
    auth = await register(client)
    await client.request("profile.update", bio="hello from a subprocess")
    # Some bad input, which is logged as a warning naming the session.
    burst = int(Settings().abuse_strikes.burst)
    other = Client(reconnect=False)
    await other.connect(served.url, token=auth.token)
    for _ in range(burst + 1):
        await other.send_raw(b"\xc1")
    await wait_for(lambda: other.close_code is not None)
    assert other.close_code == CloseCode.POLICY_VIOLATION

    code = await asyncio.to_thread(served.terminate)
    assert code == 0
    await wait_for(lambda: client.close_code is not None)
    assert client.close_code == CloseCode.GOING_AWAY
    await client.close()
    await other.close()

    lines = [line for line in served.output().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]  # every one of them parses
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in entries)
    messages = [entry["msg"] for entry in entries]
    assert "grover ready" in messages and "grover stopped" in messages
    assert messages.index("grover stopped") == len(messages) - 1
    user_id = auth.user.id
    logged_in = [e for e in entries if e["msg"] == "logged in"]
    assert logged_in and logged_in[0]["user"] == user_id and logged_in[0]["session"]
    sessions = {e["session"] for e in entries if e.get("user") == user_id}
    assert client.session_id in sessions and other.session_id in sessions
    abuse = [e for e in entries if e["msg"] == "closing abusive connection"]
    assert abuse and abuse[0]["session"] == other.session_id and abuse[0]["user"] == user_id
    assert abuse[0]["level"] == "warning"
    closed = [e for e in entries if e["msg"] == "connection closed"]
    assert {e.get("code") for e in closed} >= {CloseCode.POLICY_VIOLATION, CloseCode.GOING_AWAY}
    # Nothing but JSON and the banner: no stray tracebacks.
    assert "Traceback" not in served.output()


async def test_serve_prints_the_public_url_when_set(tmp_path: Path) -> None:
    process = GroverProcess(tmp_path / "node", GROVER_PUBLIC_URL="ws://grover.example.com:443")
    await asyncio.to_thread(process.start)
    try:
        assert "websocket: ws://grover.example.com:443" in process.output()
    finally:
        assert await asyncio.to_thread(process.terminate) == 0
