"""Materialize Larder's online store every 15 minutes through its HTTP API.

POSTs /materialize-incremental?async=true, then polls GET /jobs/{id} until the job is over.
Uses only the standard library, so it runs on any Airflow worker. A 409 (the views are already
being materialized by an earlier run) fails the task; Airflow retries it later.
"""

import json
import os
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator

LARDER_URL = os.environ.get("LARDER_URL", "http://127.0.0.1:6566").rstrip("/")
FEATURE_VIEWS = None  # or a list of view names; None materializes every online view
POLL_SECONDS = 5
TIMEOUT_SECONDS = 2 * 60 * 60


def _request(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        LARDER_URL + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        detail = error.read().decode()
        raise RuntimeError(f"{method} {path} answered {error.code}: {detail}") from error


def materialize_incremental(data_interval_end, **_):
    end_ts = data_interval_end.isoformat()
    status, accepted = _request(
        "POST",
        "/materialize-incremental?async=true",
        {"end_ts": end_ts, "feature_views": FEATURE_VIEWS},
    )
    if status != 202:
        raise RuntimeError(f"expected 202 Accepted, got {status}: {accepted}")
    job_id = accepted["job_id"]
    print(f"job {job_id} materializes {accepted['feature_views']} up to {end_ts}")
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        _, job = _request("GET", f"/jobs/{job_id}")
        for view in job["feature_views"]:
            print(f"  {view['name']}: {view['state']}, {view['rows_written']} rows written")
        if job["state"] == "succeeded":
            return job
        if job["state"] == "failed":
            raise RuntimeError(f"job {job_id} failed: {job['error']}")
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"job {job_id} still running after {TIMEOUT_SECONDS} s")


with DAG(
    dag_id="larder_materialize_http",
    start_date=datetime(2026, 1, 1),
    schedule=timedelta(minutes=15),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2)},
    tags=["larder", "features"],
) as dag:
    PythonOperator(task_id="materialize_incremental", python_callable=materialize_incremental)
