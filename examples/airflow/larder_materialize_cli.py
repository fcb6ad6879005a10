"""Materialize Larder's online store every 15 minutes with the `larder` CLI.

The worker needs the `larder` binary and the feature repo (feature_store.yaml and definitions)
at LARDER_REPO. The CLI exits non-zero on failure, which fails the task.
"""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

LARDER_REPO = os.environ.get("LARDER_REPO", "/srv/feature_repo")

with DAG(
    dag_id="larder_materialize_cli",
    start_date=datetime(2026, 1, 1),
    schedule=timedelta(minutes=15),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2)},
    tags=["larder", "features"],
) as dag:
    BashOperator(
        task_id="materialize_incremental",
        bash_command=(
            'larder -c "$LARDER_REPO" materialize-incremental '
            '"{{ data_interval_end.isoformat() }}"'
        ),
        env={"LARDER_REPO": LARDER_REPO},
        append_env=True,
    )
