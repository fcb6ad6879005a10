"""Larder's materialization writes the same bytes as Feast's (the strongest form of "Larder writes what
Feast writes"): the same data, definitions and window are materialized once by `larder materialize`
and once by Feast 0.67 (SDK `materialize`), each into its own project, and the online stores are
compared byte for byte.

  test_sqlite_same_bytes: per feature view, the two tables have the same columns and index (Larder's
    table is clustered on its primary key, WITHOUT ROWID, which makes SQLite report the key columns
    NOT NULL; docs/feast-compatibility.md), the same (entity_key, feature_name) rows, and per row
    identical `value` bytes (serialized Value proto),
    `event_ts` / `created_ts` (same value and SQLite type) and `value_text` (Feast's str() of scalars,
    Python's float repr included).
  test_redis_same_bytes: the same Redis keys (serialized entity key ++ project), and per key the same
    hash: identical field names (murmur3 of "view:feature", "_ts:view") and value bytes.
  test_null_list_elements: data whose string and float list features hold null elements (Feast
    materializes them as "" and NaN; it rejects null elements in int lists, so those are not used):
    Larder must materialize it too, with the same bytes in SQLite.

Values written by both are compared as raw bytes, so any difference in encoding (a proto field, a null
sentinel, a timestamp unit) fails here even when both tools would read it back the same way.
"""
from __future__ import annotations

import sqlite3
from datetime import timedelta

from conftest import fail, now_hour

VIEWS = ["driver_hourly_stats", "driver_profile", "driver_live"]


def materialize_both(make_repo, online: str, **kw):
    end = now_hour()
    start = end - timedelta(days=8)
    ours = make_repo("sbl", online=online, data_end=end, **kw)
    theirs = make_repo("sbf", online=online, data_end=end, **kw)
    ours.larder("apply")
    ours.larder("materialize", start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S"))
    theirs.feast("apply")
    theirs.store().materialize(start_date=start, end_date=end)
    return ours, theirs


def sqlite_table(repo, view):
    db = sqlite3.connect(repo.path / "data" / "online.db")
    t = f"{repo.project}_{view}"
    cols = [tuple(r[1:]) for r in db.execute(f'PRAGMA table_info("{t}")')]
    ddl = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)).fetchone()[0]
    idx = sorted(r[1].replace(repo.project, "<project>") for r in db.execute(f'PRAGMA index_list("{t}")')
                 if not r[1].startswith("sqlite_autoindex"))
    rows = {(r[0], r[1]): r[2:] for r in db.execute(
        f'SELECT entity_key, feature_name, value, value_text, event_ts, typeof(event_ts), created_ts, '
        f'typeof(created_ts) FROM "{t}"')}
    db.close()
    return cols, idx, rows, ddl.rstrip().upper().endswith("WITHOUT ROWID")


def key_columns_nullable(cols):
    """table_info rows (name, type, notnull, default, pk) with the key columns' NOT NULL left out:
    SQLite sets it on the key of a WITHOUT ROWID table, and nothing else about the columns differs."""
    return [(name, ty, 0 if pk else notnull, default, pk) for name, ty, notnull, default, pk in cols]


def compare_sqlite(ours, theirs) -> list[str]:
    problems = []
    for view in VIEWS:
        lc, li, lr, l_clustered = sqlite_table(ours, view)
        fc, fi, fr, f_clustered = sqlite_table(theirs, view)
        if not l_clustered or f_clustered:
            problems.append(f"{view}: expected Larder's table WITHOUT ROWID and Feast's with a rowid, "
                            f"got {l_clustered} and {f_clustered}")
        if key_columns_nullable(lc) != key_columns_nullable(fc):
            problems.append(f"{view}: columns Larder {lc} != Feast {fc}")
        if li != fi:
            problems.append(f"{view}: indexes Larder {li} != Feast {fi}")
        if set(lr) != set(fr):
            only_l, only_f = set(lr) - set(fr), set(fr) - set(lr)
            problems.append(f"{view}: {len(only_l)} rows only Larder wrote (e.g. {sorted(only_l)[:2]}), "
                            f"{len(only_f)} only Feast wrote (e.g. {sorted(only_f)[:2]})")
        for key in sorted(set(lr) & set(fr)):
            (lv, lt, le, let, lcr, lct), (fv, ft, fe, fet, fcr, fct) = lr[key], fr[key]
            where = f"{view} entity_key={key[0].hex()} {key[1]}"
            if lv != fv:
                problems.append(f"{where}: value Larder {bytes(lv)!r} != Feast {bytes(fv)!r}")
            if (le, let, lcr, lct) != (fe, fet, fcr, fct):
                problems.append(f"{where}: event_ts/created_ts Larder {(le, let, lcr, lct)} != Feast "
                                f"{(fe, fet, fcr, fct)}")
            if lt != ft:
                problems.append(f"{where}: value_text Larder {lt!r} != Feast {ft!r}")
    return problems


def summarize(problems: list[str], limit: int = 30) -> str:
    kinds = {}
    for p in problems:
        k = p.split(": ", 1)[-1].split(" ")[0]
        kinds[k] = kinds.get(k, 0) + 1
    return (f"{len(problems)} differences (by kind {kinds}):\n  " + "\n  ".join(problems[:limit])
            + ("\n  ..." if len(problems) > limit else ""))


def test_sqlite_same_bytes(make_repo):
    ours, theirs = materialize_both(make_repo, "sqlite")
    problems = compare_sqlite(ours, theirs)
    if problems:
        fail("Larder's SQLite bytes differ from Feast's: " + summarize(problems))


def test_redis_same_bytes(make_repo, redis_cleanup):
    import redis as redis_py
    from conftest import REDIS
    ours, theirs = materialize_both(make_repo, "redis")
    redis_cleanup += [ours.project, theirs.project]
    host, port = REDIS.split(":")
    r = redis_py.Redis(host=host, port=int(port))

    def hashes(project):
        suffix = project.encode()
        keys = [k for k in r.scan_iter(match=f"*{project}", count=1000) if k.endswith(suffix)]
        return {k[:-len(suffix)]: r.hgetall(k) for k in keys}

    lh, fh = hashes(ours.project), hashes(theirs.project)
    problems = []
    if set(lh) != set(fh):
        problems.append(f"keys: {len(set(lh) - set(fh))} only Larder wrote, {len(set(fh) - set(lh))} "
                        f"only Feast wrote (of {len(fh)})")
    for ek in sorted(set(lh) & set(fh)):
        a, b = lh[ek], fh[ek]
        if set(a) != set(b):
            problems.append(f"key {ek.hex()}: fields only Larder {sorted(set(a) - set(b))}, only Feast "
                            f"{sorted(set(b) - set(a))}")
        for fld in sorted(set(a) & set(b)):
            if a[fld] != b[fld]:
                problems.append(f"key {ek.hex()} field {fld!r}: value Larder {a[fld]!r} != Feast {b[fld]!r}")
    assert len(fh) >= 200, f"Feast wrote only {len(fh)} keys"
    if problems:
        fail("Larder's Redis hashes differ from Feast's: " + summarize(problems))


def test_null_list_elements(make_repo):
    end = now_hour()
    start = end - timedelta(days=8)
    window = (start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S"))
    ours = make_repo("nll", data_end=end, null_list_items=True)
    theirs = make_repo("nlf", data_end=end, null_list_items=True)
    nulls = sum(v is None for lst in ours.tables["driver_profile"]["languages"].to_pylist() if lst
                for v in lst)
    assert nulls > 0, "the data has no null list elements"
    theirs.feast("apply")
    theirs.store().materialize(start_date=start, end_date=end)
    ours.larder("apply")
    p = ours.larder("materialize", *window, check=False)
    if p.returncode != 0:
        fail(f"Feast 0.67 materializes string and float list features holding null elements "
             f"(storing '' and NaN for them), but `larder materialize {' '.join(window)}` "
             f"fails (exit {p.returncode}) on the same data:\n{p.stderr.strip()[-1500:]}")
    problems = compare_sqlite(ours, theirs)
    if problems:
        fail("with null elements inside lists: " + summarize(problems))
