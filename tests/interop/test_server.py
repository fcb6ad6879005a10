"""HTTP feature-server interop (g): `feast serve` and `larder serve`, each on its own loopback port over
the same repo (registry and materialized SQLite store), answer the same `POST /get-online-features`
requests with the same values, statuses (mapping in compare.py) and event timestamps per feature name:
feature refs across three views, a feature service, full feature names, unknown entities. Both servers
must also say 200 on `GET /health`, and both must reject a request for an unknown feature view with an
HTTP error (the codes are printed; Feast says 404 or 500 depending on the error class).

If `larder serve` does not exist in the binary being tested, the check is skipped with that message.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from compare import catalog, compare_online, http_columns, report
from conftest import FEAST_BIN, fail, free_port, larder_bin, now_hour, run, wait_http

DRIVERS = list(range(1001, 1201)) + [999, 1201, 0, 123456789]


def post(url: str, body: dict) -> tuple[int, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:300]


class Server:
    def __init__(self, name, cmd, cwd):
        self.name, self.port = name, free_port()
        self.log = open(cwd.parent / f"{name}-serve.log", "w+")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen([str(c) for c in cmd] + ["-p", str(self.port)], cwd=cwd, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        # scripts/interop.sh stops these process groups if the run is killed before teardown
        pids = os.environ.get("INTEROP_PIDS_DIR")
        self.pidfile = os.path.join(pids, str(self.proc.pid)) if pids else None
        if self.pidfile:
            open(self.pidfile, "w").close()

    def wait(self):
        try:
            wait_http(self.url + "/health", self.proc)
        except AssertionError as e:
            self.log.seek(0)
            raise AssertionError(f"{self.name} serve: {e}\n{self.log.read()[-3000:]}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()
        if self.pidfile and os.path.exists(self.pidfile):
            os.remove(self.pidfile)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


def test_feast_serve_and_larder_serve_agree(make_repo, servers):
    probe = run([larder_bin(), "serve", "--help"], check=False)
    if probe.returncode != 0:
        pytest.skip(f"`larder serve` is not available in this build: {probe.stderr.strip()[:200]}")
    repo = make_repo("g", online="sqlite", data_end=now_hour())
    repo.larder("apply")
    start, end = repo.data_end - timedelta(days=8), repo.data_end
    repo.larder("materialize", start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S"))

    feast = Server("feast", [FEAST_BIN, "-c", repo.path, "serve", "-h", "127.0.0.1", "--no-access-log"],
                   repo.path)
    servers.append(feast)
    larder = Server("larder", [larder_bin(), "-c", repo.path, "serve", "-h", "127.0.0.1",
                               "--no-access-log"], repo.path)
    servers.append(larder)
    larder.wait()
    feast.wait()

    store = repo.store()
    refs = [f"{fv.name}:{f.name}" for fv in sorted(store.list_feature_views(), key=lambda v: v.name)
            for f in fv.features]
    labels = [f"driver_id={d}" for d in DRIVERS]
    requests = [
        ("refs", {"features": refs, "entities": {"driver_id": DRIVERS}}, False),
        ("service", {"feature_service": "driver_activity", "entities": {"driver_id": DRIVERS}}, False),
        ("full names", {"features": refs, "entities": {"driver_id": DRIVERS}, "full_feature_names": True},
         True),
    ]
    problems, total = [], {}
    for label, body, full in requests:
        fcode, fbody = post(feast.url + "/get-online-features", body)
        t0 = time.time()
        lcode, lbody = post(larder.url + "/get-online-features", body)
        t1 = time.time()
        if (fcode, lcode) != (200, 200):
            problems.append(f"[{label}] HTTP Feast {fcode} {str(fbody)[:200]} / Larder {lcode} {str(lbody)[:200]}")
            continue
        p, counts = compare_online(http_columns(fbody), http_columns(lbody), catalog(store, full),
                                   t0, t1, labels)
        problems += [f"[{label}] {x}" for x in p]
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v

    bad = {"features": ["no_such_view:x"], "entities": {"driver_id": [1001]}}
    fcode, fbody = post(feast.url + "/get-online-features", bad)
    lcode, lbody = post(larder.url + "/get-online-features", bad)
    print(f"unknown feature view: Feast HTTP {fcode} {fbody!s:.200}\n"
          f"                      Larder HTTP {lcode} {lbody!s:.200}")
    if not (fcode >= 400 and lcode >= 400):
        problems.append(f"unknown feature view: Feast HTTP {fcode}, Larder HTTP {lcode}")

    print("status pairs (Feast status, value?, Larder status): count")
    for k in sorted(total):
        print(f"  {k}: {total[k]}")
    if problems:
        fail(report("feast serve vs larder serve", problems))
    assert total.get(("PRESENT", "value", "PRESENT")) and total.get(("NOT_FOUND", "null", "NOT_FOUND")), total
