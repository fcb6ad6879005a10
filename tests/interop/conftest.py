"""Shared fixtures of the Larder <-> Feast 0.67 interop checks (run by scripts/interop.sh).

What is here: how a check gets its own feature repo (a copy of `repo/` -- Feast's definitions.py and
Larder's equivalent definitions.yaml side by side, since Feast reads only *.py and Larder only *.yaml --
plus seeded data from `datagen.py` and a feature_store.yaml with a unique project name) in a pytest
temp dir, and how it drives the two tools: the `larder` binary ($LARDER_BIN) and Feast 0.67 (the
`feast` CLI of this interpreter's venv, or its Python SDK in-process). Every subprocess has a timeout.

Environment: LARDER_BIN (required), LARDER_REDIS (default 127.0.0.1:6379). TZ must be UTC (Feast's
SQLite store stores naive UTC timestamps through the local timezone).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402

TEMPLATE = HERE / "repo"
FEAST_BIN = Path(sys.executable).parent / "feast"
REDIS = os.environ.get("LARDER_REDIS", "127.0.0.1:6379")
CMD_TIMEOUT = 120  # seconds for any one command

if os.environ.get("TZ") != "UTC":
    raise RuntimeError("run the interop checks with TZ=UTC (scripts/interop.sh sets it)")


def larder_bin() -> str:
    path = os.environ.get("LARDER_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"LARDER_BIN must name the built larder binary (got {path!r})")
    return path


def run(cmd: list[str], cwd: Path | None = None, check: bool = True, timeout: int = CMD_TIMEOUT
        ) -> subprocess.CompletedProcess:
    """Runs a command, capturing output; on failure raises with the command and its output."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", NO_COLOR="1")
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"command failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n"
                             f"--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}")
    return p


@dataclass
class Repo:
    """One feature repo in a temp dir, usable by both tools."""
    path: Path
    project: str
    online: str
    offline: str
    data_end: datetime
    tables: dict = field(default_factory=dict)

    # -- Larder
    def larder(self, *args, check: bool = True, timeout: int = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return run([larder_bin(), "-c", self.path, *args], check=check, timeout=timeout)

    def larder_json(self, *args):
        out = self.larder(*args).stdout
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            raise AssertionError(f"larder {' '.join(args)} did not print JSON ({e}):\n{out[:2000]}")

    # -- Feast
    def feast(self, *args, check: bool = True, timeout: int = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return run([FEAST_BIN, "-c", self.path, *args], check=check, timeout=timeout)

    def store(self):
        """A fresh Feast FeatureStore (so nothing is cached from before the other tool wrote).

        Also makes the repo the working directory: Feast's DuckDB store resolves a FileSource's
        relative path against the working directory, not the repo (the feast CLI chdirs with -c)."""
        from feast import FeatureStore
        os.chdir(self.path)
        return FeatureStore(repo_path=str(self.path))

    @property
    def registry_path(self) -> Path:
        return self.path / "data" / "registry.db"


def write_feature_store_yaml(path: Path, project: str, online: str, offline: str) -> None:
    if online == "redis":
        online_cfg = f'online_store:\n  type: redis\n  connection_string: "{REDIS}"\n'
    else:
        online_cfg = "online_store:\n  type: sqlite\n  path: data/online.db\n"
    path.write_text(f"project: {project}\nprovider: local\nregistry: data/registry.db\n{online_cfg}"
                    f"offline_store:\n  type: {offline}\nentity_key_serialization_version: 3\n")


def unique_project(tag: str) -> str:
    # letters, digits and _ only: valid for Feast's SQLite table names
    return f"interop_{tag}_{secrets.token_hex(4)}"


def now_hour() -> datetime:
    n = datetime.now(timezone.utc)
    return n.replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def make_repo(tmp_path_factory):
    """make_repo(tag, online="sqlite"|"redis", offline="duckdb"|"file", data_end=datetime,
    null_list_items=False) -> Repo."""
    def make(tag: str, online: str = "sqlite", offline: str = "duckdb",
             data_end: datetime = datagen.END, null_list_items: bool = False) -> Repo:
        root = tmp_path_factory.mktemp(tag)
        path = root / "repo"
        shutil.copytree(TEMPLATE, path, ignore=shutil.ignore_patterns("__pycache__", "data"))
        tables = datagen.write_all(str(path / "data"), end=data_end, null_list_items=null_list_items)
        project = unique_project(tag)
        write_feature_store_yaml(path / "feature_store.yaml", project, online, offline)
        return Repo(path=path, project=project, online=online, offline=offline, data_end=data_end,
                    tables=tables)
    return make


@pytest.fixture
def redis_cleanup():
    """Yields a list to append project names to; afterwards deletes exactly those projects' keys
    (Feast's Redis key = serialized entity key ++ project name), never anything else."""
    import redis as redis_py
    host, port = REDIS.split(":")
    client = redis_py.Redis(host=host, port=int(port), socket_timeout=10)
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"Redis is not reachable at {REDIS} ({e}); start it with scripts/services.sh")
    projects: list[str] = []
    yield projects
    for project in projects:
        keys = list(client.scan_iter(match=f"*{project}", count=1000))
        keys = [k for k in keys if k.endswith(project.encode())]
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {timeout}s")


def fail(message: str):
    """Fails the check with `message` alone (no assertion-rewriting dump of the values compared)."""
    pytest.fail(message, pytrace=False)
