"""Seeded, deterministic test data for the interop checks (the idea of the Feast peer benchmark's
`gen_data.py`, made small and self-contained).

Files written into `<repo>/data/` (all timestamps timestamp[us, UTC], whole seconds):

  driver_stats.parquet    DRIVERS x ROWS rows, shuffled; driver_id int64 (FIRST_ID..), event_timestamp,
                          created, and 10 features: float32, float64, int64, string, with ~3% nulls in
                          `rating` (float64), `city` (string), `trips_today` (int64) and `conv_rate`
                          (float32). Ties: for drivers with index % 5 == 0 the latest event_timestamp
                          appears twice with different `created` (the later created must win); for
                          index % 5 == 2 the earliest one does. The tied rows carry different values.
  driver_profile.parquet  one to three rows per driver (most drivers), more Feast types: int32, bool,
                          unix timestamp, bytes, array<int64>, array<string>, array<float64>, with nulls
                          (also null lists; with null_list_items, null elements inside the string and
                          float lists -- Feast rejects them inside int lists).
  driver_live.parquet     the push source's batch data: a few rows per driver, float64 + int64 + string.
  entity_rows.parquet     entity_row int64 (0..N-1), driver_id, event_timestamp: unknown drivers, times
                          before any data, times exactly on a feature row, exactly on row + ttl, and
                          uniform times (some past the data / outside ttl), plus duplicated entity rows.

`end` (the end of the data window) is a parameter: checks that look at online freshness pass a time
near now; the others use the fixed END.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

END = datetime(2026, 11, 1, tzinfo=timezone.utc)
DAYS = 10
TTL_S = 2 * 86400
FIRST_ID = 1001
CITIES = np.array(["Amsterdam", "Berlin", "Chicago", "Delhi", "Lagos", "Lima", "Oslo", "São Paulo",
                   "Tokyo", "Zürich"], dtype=object)
TSU = pa.timestamp("us", tz="UTC")


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, pa.int64()).cast(TSU)


def feature_seconds(drivers: int, rows: int, seed: int, end: datetime, days: int = DAYS) -> np.ndarray:
    """Per-driver sorted whole-second event times, shape (drivers, rows), with the ties described above."""
    rng = np.random.default_rng(seed)
    win = days * 86400
    off = np.sort(rng.integers(0, win, size=(drivers, rows), dtype=np.int64), axis=1)
    idx = np.arange(drivers)
    last_tie = idx % 5 == 0
    off[last_tie, rows - 1] = off[last_tie, rows - 2]
    first_tie = idx % 5 == 2
    off[first_tie, 1] = off[first_tie, 0]
    return int(end.timestamp()) - win + off


def driver_stats(drivers: int, rows: int, seed: int = 42, end: datetime = END) -> pa.Table:
    rng = np.random.default_rng(seed + 1)
    secs = feature_seconds(drivers, rows, seed, end).reshape(-1)
    n = drivers * rows
    ids = np.repeat(np.arange(FIRST_ID, FIRST_ID + drivers, dtype=np.int64), rows)
    # created = event + [0, 3600) s; the second row of a tie gets created = the first's -/+ 1..600 s
    created = (secs + rng.integers(0, 3600, n)).reshape(drivers, rows)
    s2 = secs.reshape(drivers, rows)
    tie = np.zeros_like(s2, dtype=bool)
    tie[:, 1:] = s2[:, 1:] == s2[:, :-1]
    shift = np.where(rng.random((drivers, rows)) < 0.5, -1, 1) * rng.integers(1, 600, (drivers, rows))
    prev = np.zeros_like(created)
    prev[:, 1:] = created[:, :-1]
    created = np.where(tie, prev + shift, created).reshape(-1)
    null = lambda: rng.random(n) < 0.03  # noqa: E731
    cols = [
        ("driver_id", pa.array(ids, pa.int64())),
        ("event_timestamp", _ts(secs)),
        ("created", _ts(created)),
        ("conv_rate", pa.array(rng.random(n).astype(np.float32), pa.float32(), mask=null())),
        ("acc_rate", pa.array(rng.random(n).astype(np.float32), pa.float32())),
        ("avg_daily_trips", pa.array(rng.integers(0, 1000, n), pa.int64())),
        ("rating", pa.array(np.round(rng.uniform(1.0, 5.0, n), 3), pa.float64(), mask=null())),
        ("earnings", pa.array(rng.gamma(2.0, 50.0, n), pa.float64())),
        ("distance_km", pa.array(rng.uniform(0, 500, n).astype(np.float32), pa.float32())),
        ("trips_today", pa.array(rng.integers(0, 40, n), pa.int64(), mask=null())),
        ("cancellations", pa.array(rng.integers(-2, 10, n), pa.int64())),
        ("speed_avg", pa.array(rng.normal(35.0, 8.0, n), pa.float64())),
        ("city", pa.array(CITIES[rng.integers(0, len(CITIES), n)], pa.string(), mask=null())),
    ]
    perm = rng.permutation(n)
    return pa.Table.from_arrays([a.take(pa.array(perm)) for _, a in cols], names=[c for c, _ in cols])


def driver_profile(drivers: int, seed: int = 43, end: datetime = END, null_items: bool = False
                   ) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids, secs = [], []
    base = int(end.timestamp()) - DAYS * 86400
    for i in range(drivers):
        if i % 9 == 4:  # some drivers have no profile at all
            continue
        k = 1 + i % 3
        t = np.sort(rng.integers(0, DAYS * 86400, size=k))
        ids += [FIRST_ID + i] * k
        secs += list(base + t)
    n = len(ids)
    secs = np.array(secs, dtype=np.int64)
    created = secs + rng.integers(0, 600, n)
    null = lambda p=0.05: rng.random(n) < p  # noqa: E731

    def lists(kind):
        out = []
        for j in range(n):
            if rng.random() < 0.05:
                out.append(None)
                continue
            m = int(rng.integers(0, 4))
            if kind == "int":
                items = [int(x) for x in rng.integers(-10**12, 10**12, m)]
            elif kind == "str":
                items = [str(x) for x in rng.choice(["en", "nl", "de", "fr", "ja", "pt", ""], m)]
            else:
                items = [float(x) for x in rng.normal(0, 100, m)]
            if null_items and kind != "int":  # null elements inside string / float lists
                items = [None if rng.random() < 0.15 else x for x in items]
            out.append(items)
        return out

    cols = [
        ("driver_id", pa.array(np.array(ids, dtype=np.int64), pa.int64())),
        ("event_timestamp", _ts(secs)),
        ("created", _ts(created)),
        ("seniority", pa.array(rng.integers(-5, 40, n).astype(np.int32), pa.int32(), mask=null())),
        ("is_active", pa.array(rng.random(n) < 0.5, pa.bool_(), mask=null())),
        ("signup_ts", pa.array((base - rng.integers(0, 10**8, n)) * 1_000_000, pa.int64(), mask=null())
         .cast(TSU)),
        ("badge", pa.array([bytes(rng.integers(0, 256, int(rng.integers(0, 6))).astype(np.uint8).tobytes())
                            for _ in range(n)], pa.binary(), mask=null())),
        ("trip_ids", pa.array(lists("int"), pa.list_(pa.int64()))),
        ("languages", pa.array(lists("str"), pa.list_(pa.string()))),
        ("scores", pa.array(lists("float"), pa.list_(pa.float64()))),
    ]
    return pa.Table.from_arrays([a for _, a in cols], names=[c for c, _ in cols])


def driver_live(drivers: int, seed: int = 44, end: datetime = END) -> pa.Table:
    rng = np.random.default_rng(seed)
    per = 3
    secs = feature_seconds(drivers, per, seed, end).reshape(-1)
    n = drivers * per
    created = secs + rng.choice(100_000, n, replace=False)
    cols = [
        ("driver_id", pa.array(np.repeat(np.arange(FIRST_ID, FIRST_ID + drivers, dtype=np.int64), per),
                               pa.int64())),
        ("event_timestamp", _ts(secs)),
        ("created", _ts(created)),
        ("lat", pa.array(rng.uniform(-90, 90, n), pa.float64())),
        ("lon", pa.array(rng.uniform(-180, 180, n), pa.float64(), mask=rng.random(n) < 0.05)),
        ("pings", pa.array(rng.integers(0, 10**6, n), pa.int64())),
        ("status", pa.array(rng.choice(["idle", "busy", "offline"], n), pa.string())),
    ]
    perm = rng.permutation(n)
    return pa.Table.from_arrays([a.take(pa.array(perm)) for _, a in cols], names=[c for c, _ in cols])


def entity_rows(drivers: int, n: int, seed: int = 7, feature_seed: int = 42, rows: int = 10,
                end: datetime = END) -> pa.Table:
    rng = np.random.default_rng(seed)
    win = DAYS * 86400
    start = int(end.timestamp()) - win
    ids = rng.integers(FIRST_ID, FIRST_ID + drivers, size=n, dtype=np.int64)
    secs = rng.integers(start, start + win + 86400, size=n, dtype=np.int64)
    kind = rng.random(n)
    missing, before = kind < 0.05, (kind >= 0.05) & (kind < 0.10)
    exact, ttl_edge = (kind >= 0.10) & (kind < 0.20), (kind >= 0.20) & (kind < 0.25)
    ids[missing] = FIRST_ID + drivers + rng.integers(1, 10_000, size=int(missing.sum()))
    secs[before] = start - rng.integers(3600, 5 * 86400, size=int(before.sum()))
    fts = feature_seconds(drivers, rows, feature_seed, end)
    pick = rng.integers(0, rows, size=n)
    row_ts = fts[ids.clip(FIRST_ID, FIRST_ID + drivers - 1) - FIRST_ID, pick]
    secs[exact] = row_ts[exact]
    secs[ttl_edge] = row_ts[ttl_edge] + TTL_S
    # a few exact duplicates of earlier entity rows (same driver and time, different entity_row)
    for j in range(n - 5, n):
        ids[j], secs[j] = ids[j - n // 2], secs[j - n // 2]
    return pa.Table.from_arrays([pa.array(np.arange(n, dtype=np.int64)), pa.array(ids, pa.int64()),
                                 _ts(secs)], names=["entity_row", "driver_id", "event_timestamp"])


def write_all(data_dir: str, drivers: int = 200, rows: int = 10, entity_n: int = 400,
              end: datetime = END, null_list_items: bool = False) -> dict:
    """Writes every file into `data_dir`; returns {name: table}."""
    os.makedirs(data_dir, exist_ok=True)
    tables = {
        "driver_stats": driver_stats(drivers, rows, end=end),
        "driver_profile": driver_profile(drivers, end=end, null_items=null_list_items),
        "driver_live": driver_live(drivers, end=end),
        "entity_rows": entity_rows(drivers, entity_n, rows=rows, end=end),
    }
    for name, table in tables.items():
        pq.write_table(table, os.path.join(data_dir, f"{name}.parquet"))
    return tables
