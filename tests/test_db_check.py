"""``grover db check`` and ``grover db stats`` on a real, seeded SQLite file
(:mod:`server.dbcheck`, :mod:`server.storage.sqlite.plans`,
:mod:`server.storage.workload`)."""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import shutil
import sqlite3

import pytest

from server.cli import main
from server.storage import SQLITE_FILE_NAME, SqliteStore, workload
from server.storage.mongo import plans as mongo_plans
from server.storage.sqlite import plans
from server.storage.sqlite.plans import check_database, full_scans, normalise

ROWS = 300


async def _seed(path: pathlib.Path) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        await workload.seed(store, ROWS)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A data dir whose database was seeded through the ports (the user's)."""
    data_dir = tmp_path_factory.mktemp("seeded")
    asyncio.run(_seed(data_dir / SQLITE_FILE_NAME))
    return data_dir


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blocks(out: str) -> dict[str, list[str]]:
    """The check's output as port method → the statements (with plans) it ran."""
    found: dict[str, list[str]] = {}
    for block in out.split("\n\n"):
        head, _, body = block.strip().partition("\n")
        if not head.startswith("["):
            continue
        for port in head[1 : head.index("]")].split(", "):
            found.setdefault(port, []).append(body)
    return found


def test_check_passes_and_lists_the_plans_of_every_port(
    seeded: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(seeded / SQLITE_FILE_NAME)

    assert main(["db", "check", "--data-dir", str(seeded)]) == 0

    out = capsys.readouterr().out
    assert "a scratch copy of" in out
    assert out.rstrip().endswith("OK: no query scans a whole table.")
    blocks = _blocks(out)
    # Every port method ran at least one statement, and each got a plan.
    assert sorted(blocks) == sorted(workload.port_methods())
    history = "\n".join(blocks["messages.history"])
    assert "FROM messages WHERE conversation_id = ?" in history
    assert "SEARCH messages USING PRIMARY KEY (conversation_id=?" in history
    feed = "\n".join(blocks["posts.by_authors"])  # the home feed, both of its steps
    assert "SEARCH posts USING COVERING INDEX posts_recent" in feed
    assert "FROM posts WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?" in feed
    search = "\n".join(blocks["products.search"])
    assert "products_fts MATCH ?" in search
    assert "SCAN products_fts VIRTUAL TABLE" in search
    # The user's file was only read.
    assert _digest(seeded / SQLITE_FILE_NAME) == before


def test_a_dropped_index_is_a_failing_full_scan(
    seeded: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(seeded / SQLITE_FILE_NAME, tmp_path / SQLITE_FILE_NAME)
    with sqlite3.connect(tmp_path / SQLITE_FILE_NAME) as conn:
        conn.execute("DROP INDEX members_user_id")
    conn.close()

    assert main(["db", "check", "--data-dir", str(tmp_path)]) == 1

    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FULL SCAN of members by")]
    assert failing, out[-2000:]
    assert any("conversations.list_for_user" in line for line in failing)
    assert any("FROM members" in line for line in failing)
    assert "FAILED:" in out


async def test_the_allow_list_lets_a_deliberate_scan_through(
    seeded: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def drop(conn: sqlite3.Connection) -> None:
        conn.execute("DROP INDEX auth_sessions_expires_at")

    report = await check_database(seeded / SQLITE_FILE_NAME, prepare=drop)
    assert [s.ports for s in report.full_scans] == [["auth_sessions.delete_expired"]]

    reason = "a daily sweep that visits every session anyway"
    monkeypatch.setitem(plans.ALLOWED, ("auth_sessions.delete_expired", "auth_sessions"), reason)
    report = await check_database(seeded / SQLITE_FILE_NAME, prepare=drop)
    assert report.ok
    (swept,) = [s for s in report.statements if s.scans]
    assert swept.allowed == {"auth_sessions": reason}


def test_the_workload_covers_every_port_method(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = workload.port_methods()
    assert len(ports) == len(set(ports)) > 100
    assert {"messages.history", "posts.by_authors", "products.search"} <= set(ports)
    workload.check_coverage()
    assert set(workload.WORKLOAD) == set(ports)

    # A port method without an entry fails loudly, naming it.
    monkeypatch.delitem(workload.WORKLOAD, "likes.liked_posts")
    with pytest.raises(workload.WorkloadGap, match=r"likes\.liked_posts"):
        workload.check_coverage()


def test_the_workload_refuses_an_entry_for_no_port(monkeypatch: pytest.MonkeyPatch) -> None:
    async def nothing(store: object, world: object) -> None:
        return None

    monkeypatch.setitem(workload.WORKLOAD, "likes.teleport", nothing)
    with pytest.raises(workload.WorkloadGap, match=r"likes\.teleport"):
        workload.check_coverage()


@pytest.mark.parametrize(
    ("plan", "sql", "scanned"),
    [
        (["SCAN p"], "SELECT * FROM posts AS p WHERE text LIKE '%a%'", ["posts"]),
        (["SCAN posts"], "DELETE FROM posts WHERE created_at < 5", ["posts"]),
        (["SCAN main.posts"], "SELECT * FROM posts", ["posts"]),
        (["SCAN posts USING INDEX posts_recent"], "SELECT * FROM posts ORDER BY 1", []),
        (["SCAN posts USING COVERING INDEX posts_author"], "SELECT count(*) FROM posts", []),
        (["SCAN json_each VIRTUAL TABLE INDEX 1:"], "SELECT value FROM json_each('[]')", []),
        (["SCAN posts_fts VIRTUAL TABLE INDEX 0:M1"], "SELECT * FROM posts_fts", []),
        (["MATERIALIZE c", "  SEARCH posts USING INDEX x (a=?)", "SCAN c"], "WITH c AS ()", []),
        (["SCAN (subquery-1)"], "SELECT * FROM (SELECT 1)", []),
        (["SCAN CONSTANT ROW"], "SELECT 1", []),
    ],
)
def test_the_classifier(plan: list[str], sql: str, scanned: list[str]) -> None:
    assert full_scans(plan, sql, {"posts", "users"}) == scanned


def test_normalise_puts_the_parameters_back() -> None:
    sql = (
        "SELECT  id FROM users  WHERE name = 'o''brien' AND age > 42 AND score = 1.5e3"
        " AND blob = X'00ff' AND id IN ('a', 'b', 'c') AND t1.c2 = NULL"
    )
    assert normalise(sql) == (
        "SELECT id FROM users WHERE name = ? AND age > ? AND score = ? AND blob = ?"
        " AND id IN (?…) AND t1.c2 = NULL"
    )
    rows = "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"
    assert normalise(rows) == "INSERT INTO t (a, b) VALUES (?, ?), …"


def test_stats_prints_tables_indexes_and_use(
    seeded: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(seeded / SQLITE_FILE_NAME)

    assert main(["db", "stats", "--data-dir", str(seeded)]) == 0

    out = capsys.readouterr().out
    assert f"  {SQLITE_FILE_NAME}: " in out
    assert " pages of 4096 B: " in out
    assert f"  users: {ROWS + 0} rows, " in out
    assert f"  messages: {3 * ROWS} rows, " in out
    assert "    index members_user_id: " in out
    assert "    index posts_recent: " in out and "used" in out
    assert "Indexes no checked query plan uses" in out
    assert _digest(seeded / SQLITE_FILE_NAME) == before


def test_without_a_database_a_fresh_one_is_seeded(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "check", "--data-dir", str(tmp_path), "--rows", "50"]) == 0
    assert "a fresh database seeded with about 50 rows per table" in capsys.readouterr().out
    assert not (tmp_path / SQLITE_FILE_NAME).exists()  # nothing left in the data dir


def test_a_file_that_is_no_database_is_an_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / SQLITE_FILE_NAME).write_bytes(b"not a database" * 100)
    assert main(["db", "check", "--data-dir", str(tmp_path)]) == 1
    assert "cannot check" in capsys.readouterr().err


def test_mongo_without_a_server_says_it_did_not_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """MongoDB's own check is in ``test_db_check_mongo.py``."""
    monkeypatch.setattr(mongo_plans, "CONNECT_TIMEOUT_MS", 300)
    assert main(["db", "check", "--mongo-url", "mongodb://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the MongoDB server" in err
    assert "Nothing was checked" in err


def test_help_names_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["db", "check", "--help"])  # every setting's help, "10%" included
    assert exited.value.code == 0
    assert "--rows ROWS" in capsys.readouterr().out
