"""Comparison rules of the interop checks: one online answer of Feast 0.67 against one of Larder, and
Feast's answer against an independent oracle computed from the Parquet data.

Online values are compared per feature NAME (Feast orders features inside a view by a Python set, so
positions differ), per entity row, in the JSON shape of `POST /get-online-features` (Feast's
`feature_server_utils.convert_response_to_dict`, which is what `feast serve` returns and what
`larder get-online-features` prints): ints stay ints, float32 values are widened to the same double,
bytes are base64, unix timestamps are integer seconds, lists are lists, null is None. Comparison is
exact and type-strict (True != 1, 5 != 5.0). Event timestamps are compared as integer nanoseconds.

When Feast's raw `Value` protos are available (SDK reads), the proto field set must also be the one
of the feature's declared type (a Float32 feature must come back as `float_val`, Int32 as `int32_val`,
...), which checks the bytes Larder wrote, not only their JSON rendering. For Float32 features the
value Larder prints must be exactly representable as a float32.

A missing timestamp value is Feast's NaT sentinel (int64 min) on Feast's side and null on Larder's.

Status mapping (Feast 0.67's Python read path emits only PRESENT and NOT_FOUND; Larder also uses
NULL_VALUE and OUTSIDE_MAX_AGE, as Feast's Go server does):

  Feast                                   Larder must say
  -------------------------------------   ------------------------------------------------------------
  NOT_FOUND                               NOT_FOUND
  PRESENT, value not null                 PRESENT, or OUTSIDE_MAX_AGE exactly when the view's ttl > 0
                                          and now - event_ts > ttl (Larder checks ttl on read; Feast
                                          0.67 never does). Value and timestamp still equal.
  PRESENT, value null, real timestamp     NULL_VALUE (a stored row whose value is null)
  PRESENT, value null, timestamp = epoch  NOT_FOUND (Feast's Redis quirk: a missing hash/field reads
                                          as an empty Value with ts 0 and status PRESENT)
"""
from __future__ import annotations

import base64
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH_NS = 0


@dataclass(frozen=True)
class FeatureInfo:
    view: str
    feature: str
    value_type: str  # Feast ValueType name, e.g. "FLOAT", "INT64_LIST"
    ttl_s: float


def catalog(store, full_feature_names: bool = False) -> dict[str, FeatureInfo]:
    """Output column name -> what it is, from Feast's view of the registry."""
    out = {}
    for fv in store.list_feature_views():
        ttl = fv.ttl.total_seconds() if fv.ttl else 0.0
        for f in fv.features:
            name = f"{fv.name}__{f.name}" if full_feature_names else f.name
            assert name not in out, f"ambiguous output name {name}"
            out[name] = FeatureInfo(fv.name, f.name, f.dtype.to_value_type().name, ttl)
    return out


def oneof_for(value_type: str) -> str:
    return value_type.lower() + "_val"  # FLOAT -> float_val, INT64_LIST -> int64_list_val


def rfc3339_ns(s: str) -> int:
    """'2026-10-27T01:16:39.123Z' -> integer nanoseconds since the epoch."""
    assert s.endswith("Z"), f"timestamp without Z: {s!r}"
    body = s[:-1]
    frac = 0
    if "." in body:
        body, f = body.split(".")
        frac = int(f.ljust(9, "0")[:9])
    dt = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1_000_000_000 + frac


def same(a, b) -> bool:
    """Exact, type-strict equality of JSON-native values (lists element-wise)."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


class Column:
    """One output column: values (JSON-native), statuses (names), event timestamps (ns), and the raw
    Value protos when known."""

    def __init__(self, values, statuses, ts_ns, protos=None):
        self.values, self.statuses, self.ts_ns, self.protos = values, statuses, ts_ns, protos


def feast_columns(resp_proto) -> dict[str, Column]:
    from feast.feature_server_utils import _STATUS_NAMES, _value_to_native
    names = list(resp_proto.metadata.feature_names.val)
    out = {}
    for name, fv in zip(names, resp_proto.results):
        out[name] = Column([_value_to_native(v) for v in fv.values],
                           [_STATUS_NAMES[s] for s in fv.statuses],
                           [t.seconds * 1_000_000_000 + t.nanos for t in fv.event_timestamps],
                           list(fv.values))
    return out


def http_columns(body: dict) -> dict[str, Column]:
    """Columns of a `POST /get-online-features` JSON body (Feast's server or Larder's CLI/server)."""
    names = body["metadata"]["feature_names"]
    assert len(names) == len(body["results"]), "feature_names and results differ in length"
    out = {}
    for name, r in zip(names, body["results"]):
        out[name] = Column(r["values"], r["statuses"], [rfc3339_ns(t) for t in r["event_timestamps"]])
    return out


# Feast stores a missing timestamp (pandas NaT) as unix_timestamp_val = int64 min, and its SDK and
# server hand that sentinel back as a number; Larder writes the same bytes and reads them as null.
NAT = -9223372036854775808


def feast_null(v, value_type: str):
    """Feast's value with its NaT sentinel read as the null it stands for."""
    if value_type == "UNIX_TIMESTAMP" and (v == NAT or getattr(v, "year", None) == 1677):
        return None
    return v


def expected_larder_statuses(feast_status, feast_value, feast_ts_ns, ttl_s, t0, t1) -> set[str]:
    if feast_status == "NOT_FOUND":
        return {"NOT_FOUND"}
    if feast_status != "PRESENT":
        return {f"<Feast said {feast_status}, not expected from Feast 0.67>"}
    if feast_value is None:
        return {"NOT_FOUND"} if feast_ts_ns == EPOCH_NS else {"NULL_VALUE"}
    if ttl_s <= 0:
        return {"PRESENT"}
    age_min, age_max = t0 - feast_ts_ns / 1e9, t1 - feast_ts_ns / 1e9  # Larder's clock is in [t0, t1]
    if age_min > ttl_s:
        return {"OUTSIDE_MAX_AGE"}
    if age_max <= ttl_s:
        return {"PRESENT"}
    return {"PRESENT", "OUTSIDE_MAX_AGE"}


def compare_online(feast: dict[str, Column], larder: dict[str, Column], cat: dict[str, FeatureInfo],
                   t0: float, t1: float, entity_labels: list) -> tuple[list[str], Counter]:
    """Returns (mismatches, counts of (feast status, null?, larder status)). t0/t1 bracket the
    wall-clock time of Larder's read (seconds since the epoch)."""
    problems, counts = [], Counter()
    if set(feast) != set(larder):
        problems.append(f"feature names differ: only Feast {sorted(set(feast) - set(larder))}, "
                        f"only Larder {sorted(set(larder) - set(feast))}")
    for name in [n for n in feast if n in larder]:
        f, lcol = feast[name], larder[name]
        if len(f.values) != len(lcol.values) or len(lcol.values) != len(lcol.statuses):
            problems.append(f"{name}: row counts differ (Feast {len(f.values)}, Larder "
                            f"{len(lcol.values)} values / {len(lcol.statuses)} statuses)")
            continue
        info = cat.get(name)
        for i, (fv, fs, fts, lv, ls, lts) in enumerate(zip(f.values, f.statuses, f.ts_ns, lcol.values,
                                                           lcol.statuses, lcol.ts_ns)):
            where = f"{name} @ {entity_labels[i]}"
            if info is None:  # a join-key column: identical
                if not (same(fv, lv) and fs == ls):
                    problems.append(f"{where}: join key column Feast ({fv!r}, {fs}) vs Larder ({lv!r}, {ls})")
                continue
            fv = feast_null(fv, info.value_type)
            counts[(fs, "null" if fv is None else "value", ls)] += 1
            if not same(fv, lv):
                problems.append(f"{where}: value Feast {fv!r} ({fs}) != Larder {lv!r} ({ls})")
            want = expected_larder_statuses(fs, fv, fts, info.ttl_s, t0, t1)
            if ls not in want:
                problems.append(f"{where}: status Feast {fs} (value {fv!r}, ts {fts}) -> Larder must say "
                                f"{'/'.join(sorted(want))}, said {ls}")
            if fts != lts:
                problems.append(f"{where}: event timestamp Feast {fts} != Larder {lts} (ns)")
            if f.protos is not None and fv is not None:
                got = f.protos[i].WhichOneof("val")
                if got != oneof_for(info.value_type):
                    problems.append(f"{where}: Feast decoded a {got} for a {info.value_type} feature")
            if info.value_type == "FLOAT" and isinstance(lv, float) and lv == lv:
                if float(np.float32(lv)) != lv:
                    problems.append(f"{where}: Larder printed {lv!r}, not a float32 value")
    return problems, counts


# ---------------------------------------------------------------------------------------------------
# Oracle: what materializing [start, end] must leave online, straight from the Parquet data.

def _native(v, value_type: str):
    if v is None:
        return None
    if value_type == "UNIX_TIMESTAMP":
        return int(v.timestamp())
    if value_type == "BYTES":
        return base64.b64encode(v).decode("ascii")
    return v


def oracle_latest(table: pa.Table, start: datetime, end: datetime) -> dict[int, dict]:
    """driver_id -> the row with the greatest (event_timestamp, created) in [start, end] (both
    inclusive), as a dict of Python values."""
    ts = table["event_timestamp"]
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less_equal(ts, pa.scalar(end, ts.type)))
    rows = table.filter(mask).sort_by([("driver_id", "ascending"), ("event_timestamp", "ascending"),
                                       ("created", "ascending")]).to_pylist()
    return {r["driver_id"]: r for r in rows}  # the last row per driver wins


def compare_with_oracle(feast: dict[str, Column], cat: dict[str, FeatureInfo], tables: dict,
                        start: datetime, end: datetime, driver_ids: list[int],
                        redis: bool = False) -> tuple[list[str], int]:
    """Checks what Feast read against the oracle; returns (problems, number of values checked)."""
    problems, checked = [], 0
    source_of = {"driver_hourly_stats": "driver_stats", "driver_profile": "driver_profile",
                 "driver_live": "driver_live"}
    latest = {view: oracle_latest(tables[t], start, end) for view, t in source_of.items()}
    for name, col in feast.items():
        info = cat.get(name)
        if info is None:
            continue
        for i, d in enumerate(driver_ids):
            row = latest[info.view].get(d)
            v, s, t = feast_null(col.values[i], info.value_type), col.statuses[i], col.ts_ns[i]
            if row is None:
                ok = (s == "NOT_FOUND" or (redis and s == "PRESENT" and v is None and t == 0))
                if not ok:
                    problems.append(f"{name} @ driver_id={d}: no data in window, Feast read {v!r} ({s})")
                continue
            checked += 1
            want = _native(row[info.feature], info.value_type)
            want_ts = int(row["event_timestamp"].timestamp()) * 1_000_000_000
            if s != "PRESENT" or not same(v, want) or t != want_ts:
                problems.append(f"{name} @ driver_id={d}: Feast read {v!r} ({s}, ts {t}), the latest "
                                f"row (event, created) is {want!r} (ts {want_ts})")
    return problems, checked


def report(title: str, problems: list[str], limit: int = 25) -> str:
    head = "\n  ".join(problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{title}: {len(problems)} mismatches\n  {head}{more}"
