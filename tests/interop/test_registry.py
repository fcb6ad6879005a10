"""Registry interop: each tool reads the registry.db the other wrote, and sees the same objects.

The repo (repo/definitions.py for Feast, repo/definitions.yaml for Larder: the same objects) has an
entity with tags, three file sources with created-timestamp columns, a push source over one of them,
three feature views (10 features of float32/float64/int64/string with ttl 2d, tags, description and
owner; one with int32/bool/unix-timestamp/bytes/array types and ttl 30d; one on the push source with
ttl 12h) and a feature service with a whole view and a projection of another.

  a. test_feast_registry_read_by_larder: `feast apply` of the Python repo, then
     - `larder feature-views|entities|feature-services|data-sources list --json` show exactly the
       objects stored in Feast's registry.db: each equals the protobuf JSON of the stored message
       (decoded with Feast's own generated protobuf classes), field for field -- names, value types,
       ttl, tags, sources, projections, timestamps (Feast hides the __dummy entity from `entities
       list`, and so does Larder);
     - `larder plan` of the equivalent YAML repo against Feast's registry reports
       `No changes to registry` and `No changes to infrastructure`.
  b. test_larder_registry_read_by_feast: `larder apply` of the YAML repo, then
     - `feast registry-dump`, `feast feature-views list`, `feast entities list` and
       `feast feature-services list` succeed and show every object;
     - Feast's SDK (`get_feature_view`, `get_entity`, `get_feature_service`, `get_data_source`) sees
       the right features and types, entities, join keys, ttl, tags, sources and projections;
     - `feast plan` of the equivalent Python repo against Larder's registry reports no changes, and
       `feast apply` succeeds on it; Larder still reads the registry Feast then wrote.
"""
from __future__ import annotations

import difflib
import json
import shutil

from google.protobuf.json_format import MessageToDict

from conftest import fail, larder_bin, run

# What both definition files declare, in Feast's terms.
VIEWS = {
    "driver_hourly_stats": {
        "ttl": 2 * 86400, "tags": {"team": "drivers", "tier": "gold"}, "source": "driver_stats_source",
        "stream": None, "description": "driver statistics", "owner": "ops@example.com",
        "features": [("conv_rate", "FLOAT"), ("acc_rate", "FLOAT"), ("avg_daily_trips", "INT64"),
                     ("rating", "DOUBLE"), ("earnings", "DOUBLE"), ("distance_km", "FLOAT"),
                     ("trips_today", "INT64"), ("cancellations", "INT64"), ("speed_avg", "DOUBLE"),
                     ("city", "STRING")],
    },
    "driver_profile": {
        "ttl": 30 * 86400, "tags": {"team": "drivers"}, "source": "driver_profile_source",
        "stream": None, "description": "", "owner": "",
        "features": [("seniority", "INT32"), ("is_active", "BOOL"), ("signup_ts", "UNIX_TIMESTAMP"),
                     ("badge", "BYTES"), ("trip_ids", "INT64_LIST"), ("languages", "STRING_LIST"),
                     ("scores", "DOUBLE_LIST")],
    },
    "driver_live": {
        "ttl": 12 * 3600, "tags": {}, "source": "driver_live_batch", "stream": "driver_live_push",
        "description": "", "owner": "",
        "features": [("lat", "DOUBLE"), ("lon", "DOUBLE"), ("pings", "INT64"), ("status", "STRING")],
    },
}
SERVICE = {"driver_hourly_stats": [f for f, _ in VIEWS["driver_hourly_stats"]["features"]],
           "driver_live": ["lat", "lon"]}
SOURCE_PATHS = {"driver_stats_source": "data/driver_stats.parquet",
                "driver_profile_source": "data/driver_profile.parquet",
                "driver_live_batch": "data/driver_live.parquet"}
SOURCES = set(SOURCE_PATHS) | {"driver_live_push"}


def stored_objects(registry_path, project: str) -> dict[str, list[dict]]:
    """The objects of `project` exactly as stored in a registry.db, as protobuf JSON (camelCase, enum
    names), decoded by Feast's generated classes; keyed like Larder's `<kind> list` commands."""
    from feast.protos.feast.core.Registry_pb2 import Registry
    reg = Registry()
    reg.ParseFromString(registry_path.read_bytes())
    as_json = lambda m: MessageToDict(m)  # noqa: E731
    return {
        "feature-views": [as_json(m) for m in reg.feature_views if m.spec.project == project],
        "entities": [as_json(m) for m in reg.entities
                     if m.spec.project == project and m.spec.name != "__dummy"],
        "feature-services": [as_json(m) for m in reg.feature_services if m.spec.project == project],
        "data-sources": [as_json(m) for m in reg.data_sources if m.project == project],
    }


def by_name(objs: list[dict]) -> list[dict]:
    return sorted(objs, key=lambda o: o.get("spec", o)["name"])


def json_diff(a, b, name_a: str, name_b: str, limit: int = 80) -> str:
    la = json.dumps(a, indent=1, sort_keys=True).splitlines()
    lb = json.dumps(b, indent=1, sort_keys=True).splitlines()
    lines = list(difflib.unified_diff(la, lb, name_a, name_b, lineterm="", n=2))
    return "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")


def summary(views: list[dict]) -> dict:
    """The semantic content of feature-view JSON: what a reader of the registry must agree on."""
    out = {}
    for v in views:
        s = v["spec"]
        out[s["name"]] = {
            "entities": s.get("entities", []),
            "entityColumns": [(c["name"], c.get("valueType")) for c in s.get("entityColumns", [])],
            "features": [(f["name"], f.get("valueType")) for f in s.get("features", [])],
            "ttl": s.get("ttl"), "tags": s.get("tags", {}), "online": s.get("online", False),
            "batchSource": s.get("batchSource", {}).get("name"),
            "streamSource": s.get("streamSource", {}).get("name"),
        }
    return out


def test_feast_registry_read_by_larder(make_repo, tmp_path):
    repo = make_repo("a")
    out = repo.feast("apply").stdout
    assert "Created feature view driver_hourly_stats" in out, out
    stored = stored_objects(repo.registry_path, repo.project)
    assert len(stored["feature-views"]) == 3 and len(stored["feature-services"]) == 1, stored.keys()

    problems = []
    for kind, objs in stored.items():
        got = by_name(repo.larder_json(kind, "list", "--json"))
        want = by_name(objs)
        if kind == "feature-views" and summary(got) != summary(want):
            problems.append("feature views differ in substance:\n"
                            + json_diff(summary(want), summary(got), "feast registry.db", "larder"))
        if got != want:
            problems.append(f"`larder {kind} list --json` differs from the stored protobuf messages:\n"
                            + json_diff(want, got, "feast registry.db (protobuf JSON)", "larder"))
    if problems:
        fail("\n\n".join(problems))

    # Larder's definitions of the same objects must plan as "nothing to do" against Feast's registry
    plan = repo.larder("plan").stdout
    if "No changes to registry" in plan and "No changes to infrastructure" in plan:
        return
    # Explain: what Larder stores for definitions.yaml (applied to a scratch copy) vs what Feast stored
    # for definitions.py, timestamps aside.
    scratch = tmp_path / "scratch"
    shutil.copytree(repo.path, scratch, ignore=shutil.ignore_patterns("registry.db", "online.db"))
    run([larder_bin(), "-c", scratch, "apply"])
    ours = stored_objects(scratch / "data" / "registry.db", repo.project)
    diffs = [json_diff(without_meta(by_name(stored[k])), without_meta(by_name(ours[k])),
                       f"{k} stored by feast apply", f"{k} stored by larder apply")
             for k in stored if without_meta(by_name(stored[k])) != without_meta(by_name(ours[k]))]
    shown = "\n".join(ln if len(ln) < 400 else ln[:400] + " ..." for ln in plan.splitlines())
    fail(
        "`larder plan` of definitions.yaml against the registry Feast wrote from the equivalent "
        f"definitions.py reports changes:\n{shown}\n\nThe objects each tool stores for the same "
        "definitions (meta timestamps removed):\n" + "\n".join(diffs))


def without_meta(obj):
    if isinstance(obj, dict):
        return {k: without_meta(v) for k, v in obj.items() if k != "meta"}
    if isinstance(obj, list):
        return [without_meta(v) for v in obj]
    return obj


def test_larder_registry_read_by_feast(make_repo):
    repo = make_repo("b")
    out = repo.larder("apply").stdout
    assert "Created feature view driver_hourly_stats" in out, out

    # Feast's CLI reads Larder's registry
    dump = json.loads(repo.feast("registry-dump").stdout)
    assert {v["spec"]["name"] for v in dump.get("featureViews", [])} == set(VIEWS), dump.keys()
    assert {s["name"] for s in dump.get("dataSources", [])} == SOURCES
    assert [s["spec"]["name"] for s in dump.get("featureServices", [])] == ["driver_activity"]
    assert "driver" in {e["spec"]["name"] for e in dump.get("entities", [])}
    listing = repo.feast("feature-views", "list").stdout
    for name in VIEWS:
        line = next((ln for ln in listing.splitlines() if ln.split()[:1] == [name]), None)
        assert line and "{'driver'}" in line and "FeatureView" in line, listing
    ents = repo.feast("entities", "list").stdout
    assert any(ln.split()[:1] == ["driver"] and "INT64" in ln for ln in ents.splitlines()), ents
    fss = repo.feast("feature-services", "list").stdout
    assert "driver_activity" in fss and "driver_live:lat" in fss and "driver_hourly_stats:city" in fss, fss

    # Feast's SDK sees the right objects
    store = repo.store()
    problems = []
    for name, want in VIEWS.items():
        fv = store.get_feature_view(name)
        got = {
            "features": [(f.name, f.dtype.to_value_type().name) for f in fv.features],
            "entities": list(fv.entities),
            "entity_columns": [(c.name, c.dtype.to_value_type().name) for c in fv.entity_columns],
            "ttl": fv.ttl.total_seconds(), "tags": dict(fv.tags), "online": fv.online,
            "source": fv.batch_source.name if fv.batch_source else None,
            "stream": fv.stream_source.name if fv.stream_source else None,
            "description": fv.description, "owner": fv.owner,
        }
        exp = {"features": want["features"], "entities": ["driver"],
               "entity_columns": [("driver_id", "INT64")], "ttl": float(want["ttl"]),
               "tags": want["tags"], "online": True, "source": want["source"],
               "stream": want["stream"], "description": want["description"], "owner": want["owner"]}
        if got != exp:
            problems.append(f"feature view {name}: Feast sees {got}\n  expected {exp}")
        src = fv.batch_source
        if (src.timestamp_field, src.created_timestamp_column, src.path) != (
                "event_timestamp", "created", SOURCE_PATHS[want["source"]]):
            problems.append(f"{name}: batch source {src.name} is {src.timestamp_field!r}, "
                            f"{src.created_timestamp_column!r}, {src.path!r}")
    ent = store.get_entity("driver")
    if (ent.join_key, ent.value_type.name, ent.description, dict(ent.tags)) != (
            "driver_id", "INT64", "driver id", {"owner": "ops"}):
        problems.append(f"entity driver: {ent.join_key}, {ent.value_type}, {ent.description!r}, {ent.tags}")
    fs = store.get_feature_service("driver_activity")
    got_fs = {p.name: [f.name for f in p.features] for p in fs.feature_view_projections}
    if got_fs != SERVICE or dict(fs.tags) != {"purpose": "ranking"} or fs.description != "features for ranking":
        problems.append(f"feature service: {got_fs}, {fs.tags}, {fs.description!r}")
    push = store.get_data_source("driver_live_push")
    if type(push).__name__ != "PushSource" or push.batch_source.name != "driver_live_batch":
        problems.append(f"driver_live_push is {type(push).__name__} over "
                        f"{getattr(getattr(push, 'batch_source', None), 'name', None)}")
    if problems:
        fail("\n".join(problems))

    # Feast's own definitions of the same objects plan as no change, and apply cleanly
    plan = repo.feast("plan").stdout
    assert "No changes to registry" in plan and "No changes to infrastructure" in plan, (
        f"`feast plan` of definitions.py against Larder's registry reports changes:\n{plan}")
    repo.feast("apply")
    views = repo.larder_json("feature-views", "list", "--json")
    assert sorted(v["spec"]["name"] for v in views) == sorted(VIEWS), views
