#!/usr/bin/env python3
"""Tables for BENCHMARKS.md from one bench/run.sh run directory (Larder vs Feast, ratios).

  summarize.py --run bench/runs/<dir>                 Markdown on stdout (run.sh: summary.md)
  summarize.py --compare-responses LARDER.json FEAST.json   same feature values? (one line)
  summarize.py --count-parquet OUT.parquet --label L  rows / rows with features of a Larder output

Every ratio is computed from figures of the same run directory. Medians over successful runs;
[min..max] where there is more than one run. Ratios are "times better for Larder" (Feast / Larder
for times, Larder / Feast for throughput).
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections import defaultdict

FROWS = {"small": 10_000, "1m": 1_000_000, "10m": 10_000_000}
EROWS = {"100k": 100_000, "1m": 1_000_000}
MIB = 1024.0


# ---------------------------------------------------------------------------------------------
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def rng(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    m = fmt(statistics.median(vals))
    if len(vals) == 1:
        return m
    return f"{m} [{fmt(min(vals))}..{fmt(max(vals))}]"


def f_s(x):
    return f"{x:.3f}" if x < 10 else (f"{x:.2f}" if x < 100 else f"{x:.1f}")


def f_ms(x):
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def f_mib(kb):
    return f"{kb / MIB:.0f}"


def f_int(x):
    return f"{x:,.0f}"


def f_ratio(x):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "–"
    if x >= 100:
        return f"**{x:,.0f}×**"
    if x >= 10:
        return f"**{x:.1f}×**"
    return f"**{x:.2f}×**"


def goal(ok):
    return "met" if ok else "**missed**"


def load_results(run):
    rows = []
    p = os.path.join(run, "results.tsv")
    if not os.path.exists(p):
        return rows
    with open(p) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            r["wall_s"] = float(r["wall_s"]) if r["wall_s"] else None
            r["maxrss_kb"] = int(r["maxrss_kb"]) if r.get("maxrss_kb") else None
            rows.append(r)
    return rows


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(l) for l in fh if l.strip().startswith("{")]


def hyperfine(run, name):
    p = os.path.join(run, "hyperfine", name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as fh:
        r = json.load(fh)["results"][0]
    return r


class Groups:
    def __init__(self, rows):
        self.g = defaultdict(list)
        for r in rows:
            self.g[(r["step"], r["case"], r["tool"], r["store"])].append(r)

    def runs(self, step, case, tool, store):
        return self.g.get((step, case, tool, store), [])

    def ok(self, *k):
        return [r for r in self.runs(*k) if r["exit"] == "0"]

    def failure(self, *k):
        """'timeout (1200 s)' / 'exit 137 (killed)' when no run succeeded."""
        rs = self.runs(*k)
        if not rs:
            return "not run"
        bad = [r for r in rs if r["exit"] != "0"]
        r = bad[-1]
        if r["exit"] == "124":
            return f"timeout after {r['wall_s']:.0f} s"
        if r["exit"] in ("137", "-9"):
            return f"killed (exit {r['exit']}, OOM?) after {r['wall_s']:.0f} s"
        return f"failed (exit {r['exit']}) after {r['wall_s']:.1f} s"


# ---------------------------------------------------------------------------------------------
def section_apply(run, G, goals):
    print("## 1. `apply`\n")
    print("Cold = fresh registry and online store (`rm -rf data/` first); no-op = the same definitions "
          "applied again. Larder wall time from `hyperfine -N` (median [min..max] of "
          "the hyperfine runs); Feast from the shell clock around each run (median [min..max]); peak RSS "
          "from `/usr/bin/time -v`. Ratio = Feast median / Larder median.\n")
    print("| repo | apply | Larder wall ms | Larder peak RSS MiB | Feast wall s | Feast peak RSS MiB | Feast / Larder (time) |")
    print("|---|---|---|---|---|---|---|")
    for case, desc in (("peer", "peer repo (1 view, 10 features)"), ("views1000", "1,000 feature views")):
        for kind in ("cold", "noop"):
            step = f"apply_{kind}"
            hf = hyperfine(run, f"{step}_{case}_larder")
            lt = G.ok(step, case, "larder", "sqlite")
            ft = G.ok(step, case, "feast", "sqlite")
            if hf:
                lwall = hf["median"]
                lcell = f"{hf['median'] * 1e3:.1f} [{hf['min'] * 1e3:.1f}..{hf['max'] * 1e3:.1f}] (n={len(hf['times'])})"
            else:
                lwall = med([r["wall_s"] for r in lt])
                lcell = rng([r["wall_s"] * 1e3 for r in lt], f_ms)
            fwall = med([r["wall_s"] for r in ft])
            fcell = rng([r["wall_s"] for r in ft], f_s) if ft else G.failure(step, case, "feast", "sqlite")
            ratio = fwall / lwall if (fwall and lwall) else None
            print(f"| {desc} | {kind} | {lcell} | {rng([r['maxrss_kb'] for r in lt], f_mib)} | {fcell} "
                  f"| {rng([r['maxrss_kb'] for r in ft], f_mib)} | {f_ratio(ratio)} |")
            if lwall is not None:
                goals.append((f"apply {desc}, {kind}: Larder well under 50 ms", f"{lwall * 1e3:.1f} ms", lwall < 0.050))
    hf = hyperfine(run, "version_larder")
    lv = G.ok("version", "none", "larder", "none")
    fv = G.ok("version", "none", "feast", "none")
    if fv or hf:
        lwall = hf["median"] if hf else med([r["wall_s"] for r in lv])
        fwall = med([r["wall_s"] for r in fv])
        print(f"| start-up floor | `larder --version` / `feast version` | "
              f"{lwall * 1e3:.1f} | {rng([r['maxrss_kb'] for r in lv], f_mib)} | {rng([r['wall_s'] for r in fv], f_s)} "
              f"| {rng([r['maxrss_kb'] for r in fv], f_mib)} | {f_ratio(fwall / lwall if fwall and lwall else None)} |")
    print()


def section_materialize(run, G, goals):
    print("## 2. `materialize`\n")
    print("Window 2026-10-02T00:00:00..2026-11-01T00:00:00 (every source row is in it); rows/s = source rows / "
          "wall time of the whole process. Store reset and definitions re-applied before each run. Peak RSS is "
          "the CLI process (for Redis, the redis-server's memory is not included). Ratio = Larder rows/s ÷ "
          "Feast rows/s (medians).\n")
    print("| source rows | online store | Larder wall s | Larder rows/s | Larder peak RSS MiB | Feast wall s | Feast rows/s | Feast peak RSS MiB | Larder / Feast (rows/s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in ("1m", "10m"):
        for store in ("sqlite", "redis"):
            lt = G.ok("materialize", size, "larder", store)
            ft = G.ok("materialize", size, "feast", store)
            if not lt and not G.runs("materialize", size, "feast", store):
                continue
            n = FROWS[size]
            lw = med([r["wall_s"] for r in lt])
            fw = med([r["wall_s"] for r in ft])
            lrss = med([r["maxrss_kb"] for r in lt])
            if ft:
                fcells = (rng([r["wall_s"] for r in ft], f_s), rng([n / r["wall_s"] for r in ft], f_int),
                          rng([r["maxrss_kb"] for r in ft], f_mib))
            else:
                fail = G.failure("materialize", size, "feast", store)
                fcells = (fail, "–" if fail == "not run" else f"< {n / max(r['wall_s'] for r in G.runs('materialize', size, 'feast', store)):,.0f}", "–")
            lcells = (rng([r["wall_s"] for r in lt], f_s), rng([n / r["wall_s"] for r in lt], f_int),
                      rng([r["maxrss_kb"] for r in lt], f_mib)) if lt else (G.failure("materialize", size, "larder", store), "–", "–")
            ratio = (fw / lw) if (fw and lw) else None
            print(f"| {n:,} | {store} | {' | '.join(lcells)} | {' | '.join(fcells)} | {f_ratio(ratio)} |")
            if lw:
                if ratio is not None:
                    goals.append((f"materialize {n:,} rows {store}: ≥ 20× Feast rows/s", f"{ratio:.1f}×", ratio >= 20))
                elif G.runs("materialize", size, "feast", store):
                    fr = G.runs("materialize", size, "feast", store)
                    lower = max(r["wall_s"] for r in fr) / lw
                    goals.append((f"materialize {n:,} rows {store}: ≥ 20× Feast rows/s",
                                  f"> {lower:.0f}× (Feast did not finish)", lower >= 20))
                goals.append((f"materialize {n:,} rows {store}: Larder peak RSS < 300 MB",
                              f"{lrss / 1024:.0f} MiB ({lrss * 1024 / 1e6:.0f} MB)", lrss * 1024 < 300e6))
    floor = G.ok("materialize", "floor", "sqlite3", "sqlite")
    if floor:
        fw = med([r["wall_s"] for r in floor])
        feast = G.ok("materialize", "1m", "feast", "sqlite")
        goal = f" A 20× goal at 1M rows means {med([r['wall_s'] for r in feast]) / 20:.3f} s." if feast else ""
        print(f"\nSQLite reference (`bench/sqlite_floor.sql`): the sqlite3 shell alone inserting the 1,000,000 "
              f"online rows that 100k entities × 10 features make in Feast's layout (clustered on the key, as Larder "
              f"creates the table), generated inside SQLite, in "
              f"key order, one `INSERT … SELECT`, one transaction, 4 KiB pages: "
              f"{rng([r['wall_s'] for r in floor], f_s)} s (n={len(floor)}). Every SQLite materialization above "
              f"writes these same 1M rows (Larder with 16 KiB pages, 86 entities per statement and, when it has "
              f"the file to itself, a rollback journal instead of the WAL), so the "
              f"B-tree writes, not reading or encoding, are where the time goes.{goal}")
    print()


def config_name(label):
    """`larder-w1` -> `w1`; `larder` -> `default`; `feast-w2-m0` -> `w2-m0`."""
    rest = label.split("-", 1)
    return rest[1] if len(rest) > 1 else "default"


def all_configs_table(by, tool):
    labels = sorted({lab for d in by.values() for lab in d if lab.startswith(tool)})
    if not labels:
        return
    digits = 3 if tool == "larder" else 1
    print(f"\nAll {tool.capitalize()} configurations (req/s, p50 ms, p99 ms; errors = non-2xx/timeouts):\n")
    print("| store | entities/req | conc | " + " | ".join(labels) + " |")
    print("|---|---|---|" + "---|" * len(labels))
    for (store, b, c) in sorted(by, key=lambda k: (k[0] != "sqlite", k[1], k[2])):
        cells = []
        for lab in labels:
            r = by[(store, b, c)].get(lab)
            if not r:
                cells.append("–")
                continue
            e = r["err_status"] + r["err_timeout"] + r["err_connect"] + r["err_read"] + r["err_write"]
            cells.append(f"{r['rps']:,.1f} / {r['p50_ms']:.{digits}f} / {r['p99_ms']:.{digits}f}"
                         + (f" ({e} err)" if e else ""))
        print(f"| {store} | {b} | {c} | " + " | ".join(cells) + " |")


def cpu_table(by, feast_peaks):
    """CPU per request at each tool's busiest run, and for Redis the rate its redis-server could reach
    at that cost with a whole core to itself (it runs commands on one thread)."""
    best = {}   # (store, batch, is Larder) -> (req/s, conc, label, record) of the busiest run
    for (store, b, c), d in by.items():
        for lab, r in d.items():
            if r.get("server_cpu_s") is None or not r.get("requests"):
                continue
            k = (store, b, lab.startswith("larder"))
            if k not in best or r["rps"] > best[k][0]:
                best[k] = (r["rps"], c, lab, r)
    if not best:
        return
    print("\nCPU per request at each tool's peak (user + system time of the server's processes and of the "
          "private redis-server during that measured run, ÷ requests). Redis runs commands on one thread, "
          "so 1 s ÷ its CPU per request is the most requests/s one redis-server can answer in Feast's "
          "layout, whatever the feature server costs:\n")
    print("| store | entities/req | tool (config, conc) | req/s | server µs CPU/req | redis-server µs CPU/req | "
          "redis-server bound req/s | 20× Feast's peak |")
    print("|---|---|---|---|---|---|---|---|")
    for (store, b, is_larder) in sorted(best, key=lambda k: (k[0] != "sqlite", k[1], not k[2])):
        rps, c, lab, r = best[(store, b, is_larder)]
        n = r["requests"]
        srv = r["server_cpu_s"] * 1e6 / n
        red = r["redis_cpu_s"] * 1e6 / n if r.get("redis_cpu_s") else None
        bound = f"{1e6 / red:,.0f}" if red else "–"
        need = feast_peaks.get((store, b))
        print(f"| {store} | {b} | {'Larder' if is_larder else 'Feast'} ({config_name(lab)}, c{c}) | {rps:,.0f} | {srv:,.0f} | "
              f"{f'{red:,.0f}' if red else '–'} | {bound} | {f'{20 * need:,.0f}' if need and is_larder else '–'} |")


def section_serve(run, goals):
    srv = jsonl(os.path.join(run, "serve.jsonl"))
    if not srv:
        return
    print("## 3. HTTP `POST /get-online-features` (10 features, 1M rows / 100k entities materialized)\n")
    print("`wrk -t1 -cC -d12s` after a 3 s warm-up, random existing ids; 1 entity per request with the peer's "
          "`wrk_post.lua`, 100 with `bench/wrk_post_batch.lua`. Feast configs: `feast serve` 1 worker "
          "(default `--max-requests 1000`), 1 worker `--max-requests 0`, 2 workers `--max-requests 0`. "
          "Larder configs: `larder serve` with one thread per CPU (`larder`) and with `-w 1` (`larder-w1`). "
          "*Best* = the config with the most requests/s at that point, for each tool. The load generator (wrk) "
          "runs on the same 2 cores. Ratio = Larder best req/s ÷ Feast best req/s at the same concurrency.\n")
    by = defaultdict(dict)   # (store, batch, conc) -> label -> rec
    for r in srv:
        parts = r["label"].split()   # serve STORE LABEL bB cC
        store, label, b, c = parts[1], parts[2], int(parts[3][1:]), int(parts[4][1:])
        by[(store, b, c)][label] = r
    print("| store | entities/req | conc | Larder req/s | Larder p50 ms | Larder p99 ms | Feast best (config) req/s | Feast p50 ms | Feast p99 ms | Larder / Feast best |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (store, b, c) in sorted(by, key=lambda k: (k[0] != "sqlite", k[1], k[2])):
        d = by[(store, b, c)]
        larders = {k: v for k, v in d.items() if k.startswith("larder")}
        LB = max(larders.items(), key=lambda kv: kv[1]["rps"]) if larders else None
        L = LB[1] if LB else None
        feasts = {k: v for k, v in d.items() if k.startswith("feast")}
        F = max(feasts.items(), key=lambda kv: kv[1]["rps"]) if feasts else None
        lc = (f"{L['rps']:,.0f} ({config_name(LB[0])}) | {L['p50_ms']:.3f} | {L['p99_ms']:.3f}"
              if L else "– | – | –")
        errs = ""
        if L and (L["err_status"] or L["err_timeout"] or L["err_connect"] or L["err_read"] or L["err_write"]):
            errs = f" (errors: status {L['err_status']}, timeout {L['err_timeout']})"
        fc = (f"{F[1]['rps']:,.1f} ({F[0].replace('feast-', '')}) | {F[1]['p50_ms']:.2f} | {F[1]['p99_ms']:.2f}"
              if F else "– | – | –")
        ratio = L["rps"] / F[1]["rps"] if (L and F and F[1]["rps"]) else None
        print(f"| {store} | {b} | {c} | {lc}{errs} | {fc} | {f_ratio(ratio)} |")
        if larders and b == 1 and c == 8:
            lab, r = min(larders.items(), key=lambda kv: kv[1]["p99_ms"])
            goals.append((f"serve {store} 1 entity c8: Larder p99 < 1 ms",
                          f"{r['p99_ms']:.3f} ms ({config_name(lab)}, {r['rps']:,.0f} req/s)", r["p99_ms"] < 1.0))
    # peak vs peak: Larder's best concurrency vs Feast's best configuration at its best concurrency
    print("\nPeak throughput (best concurrency for Larder; best configuration *and* concurrency for Feast) -- "
          "the figure the ≥ 20× goal is judged on:\n")
    feast_peaks = {}   # (store, batch) -> Feast's peak req/s
    print("| store | entities/req | Larder peak req/s (config, conc) | Feast peak req/s (config, conc) | Larder / Feast peak |")
    print("|---|---|---|---|---|")
    for store in ("sqlite", "redis"):
        for b in sorted({k[1] for k in by if k[0] == store}):
            cells = [(c, lab, r) for (st, bb, c), d in by.items() if st == store and bb == b for lab, r in d.items()]
            ls = [(r["rps"], c, config_name(lab)) for c, lab, r in cells if lab.startswith("larder")]
            fs = [(r["rps"], lab.replace("feast-", ""), c) for c, lab, r in cells if lab.startswith("feast")]
            if not ls or not fs:
                continue
            lp, fp = max(ls), max(fs)
            feast_peaks[(store, b)] = fp[0]
            ratio = lp[0] / fp[0]
            print(f"| {store} | {b} | {lp[0]:,.0f} ({lp[2]}, c{lp[1]}) | {fp[0]:,.1f} ({fp[1]}, c{fp[2]}) | {f_ratio(ratio)} |")
            goals.append((f"serve {store} {b} entit{'y' if b == 1 else 'ies'}/request: peak ≥ 20× Feast's peak req/s",
                          f"{ratio:.1f}×", ratio >= 20))
    cpu_table(by, feast_peaks)
    for tool in ("larder", "feast"):
        all_configs_table(by, tool)
    fl = jsonl(os.path.join(run, "serve_floor.jsonl"))
    if fl:
        print("\nHTTP floor: `GET /health` on the same server process right after its runs (no body, no store "
              "access), `wrk -t1 -d5s` -- what the HTTP stack alone costs on this machine:\n")
        print("| store | server | conc | req/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        for r in fl:
            p = r["label"].split()   # floor STORE LABEL health cC
            print(f"| {p[1]} | {p[2]} | {p[4][1:]} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
    rss = os.path.join(run, "serve_rss.tsv")
    if os.path.exists(rss):
        agg = defaultdict(list)
        with open(rss) as fh:
            for line in fh:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 5 and p[4].strip():
                    agg[(p[0], p[1])].append(int(p[4]))
        if agg:
            print("\nServer peak RSS after all its runs (VmHWM, MiB; for gunicorn the sum over master + workers and the largest single process):\n")
            print("| store | server | sum of processes | largest |")
            print("|---|---|---|---|")
            for (store, lab), v in sorted(agg.items()):
                print(f"| {store} | {lab} | {sum(v) / MIB:.0f} | {max(v) / MIB:.0f} |")
    floor = os.path.join(run, "redis_floor.csv")
    if os.path.exists(floor):
        print("\nRedis floor (`redis-benchmark -n 200000`, same private redis-server; HMGET of 11 fields of one hash "
              "is what one entity costs Redis; with `-P 100`, 100 HMGETs per round trip ≈ one 100-entity request):\n")
        print("| conc | pipeline | command | req/s | p50 ms | p99 ms | ≈ HTTP-equivalent req/s |")
        print("|---|---|---|---|---|---|---|")
        with open(floor) as fh:
            for row in csv.reader(fh):
                if len(row) < 5 or row[2] == "test":
                    continue
                conc, pipe, test, rps = row[0], row[1], row[2], float(row[3])
                p50 = row[6] if len(row) > 6 else "–"
                p99 = row[8] if len(row) > 8 else "–"
                eq = rps / 100 if pipe == "P100" else rps
                print(f"| {conc[1:]} | {pipe[1:]} | {test.split()[0]} | {rps:,.0f} | {p50} | {p99} | {eq:,.0f} |")
    print()


def section_hist(run, G, goals):
    hist = jsonl(os.path.join(run, "hist.jsonl"))
    byl = defaultdict(list)
    for r in hist:
        p = r.get("label", "").split()
        if len(p) >= 4:
            byl[(p[1], p[2], p[3])].append(r)   # case, tool, store
    cases = []
    for size in ("1m", "10m"):
        for e in ("100k", "1m"):
            c = f"{e}x{size}"
            if G.runs("hist", c, "larder", "offline") or G.runs("hist", c, "feast", "file"):
                cases.append((c, e, size))
    if not cases:
        return
    print("## 4. Historical retrieval (`get_historical_features`, 10 features, point-in-time join, ttl 2 d)\n")
    print("Whole process = wall time and peak RSS of the process: `larder get-historical-features --entities E.parquet "
          "-f … -o out.parquet` vs the peer's `bench_hist.py` (Python start-up + imports + `FeatureStore` + reading "
          "the entity Parquet + `get_historical_features(...).to_df()`). Feast in-process = `retrieval_total_s` printed "
          "by `bench_hist.py` (just `get_historical_features` + `to_df()`). Ratio (whole) = faster Feast store's whole-process "
          "median ÷ Larder's; ratio vs DuckDB in-process = DuckDB's in-process median ÷ Larder's whole process.\n")
    print("| entity rows × feature rows | Larder whole s | Larder RSS MiB | Feast file whole s (in-process) | Feast file RSS MiB | Feast duckdb whole s (in-process) | Feast duckdb RSS MiB | vs faster Feast (whole) | vs DuckDB in-process |")
    print("|---|---|---|---|---|---|---|---|---|")
    rowcheck = []
    for c, e, size in cases:
        L = G.ok("hist", c, "larder", "offline")
        lw = med([r["wall_s"] for r in L])
        lrss = med([r["maxrss_kb"] for r in L])
        cells = [rng([r["wall_s"] for r in L], f_s) if L else G.failure("hist", c, "larder", "offline"),
                 rng([r["maxrss_kb"] for r in L], f_mib)]
        fwhole, frss, finproc = {}, {}, {}
        lj = byl.get((c, "larder", "offline"), [])
        if lj:
            rowcheck.append((c, "Larder", EROWS[e], lj[-1].get("result_rows"), lj[-1].get("rows_with_features")))
        for off in ("file", "duckdb"):
            F = G.ok("hist", c, "feast", off)
            js = byl.get((c, "feast", off), [])
            finproc[off] = med([j.get("retrieval_total_s") for j in js])
            if F:
                fwhole[off] = med([r["wall_s"] for r in F])
                frss[off] = med([r["maxrss_kb"] for r in F])
                inp = f" ({rng([j.get('retrieval_total_s') for j in js], f_s)})" if js else ""
                cells += [rng([r["wall_s"] for r in F], f_s) + inp, rng([r["maxrss_kb"] for r in F], f_mib)]
            else:
                cells += [G.failure("hist", c, "feast", off), "–"]
            if js:
                rowcheck.append((c, f"Feast {off}", js[-1].get("entity_rows"), js[-1].get("result_rows"), js[-1].get("rows_with_features")))
        best = min(fwhole.values()) if fwhole else None
        ratio = best / lw if (best and lw) else None
        dd = finproc.get("duckdb")
        r2 = dd / lw if (dd and lw) else None
        cells += [f_ratio(ratio), f_ratio(r2)]
        rows = f"{EROWS[e]:,} × {FROWS[size]:,}"
        print(f"| {rows} | " + " | ".join(cells) + " |")
        if lw:
            if ratio is not None:
                goals.append((f"historical {rows}: ≥ 10× faster than the faster Feast store (whole process)", f"{ratio:.1f}×", ratio >= 10))
            else:
                fails = [G.failure("hist", c, "feast", o) for o in ("file", "duckdb")]
                goals.append((f"historical {rows}: ≥ 10× faster than the faster Feast store (whole process)",
                              "Feast: " + "; ".join(fails), True))
            if r2 is not None:
                goals.append((f"historical {rows}: faster than DuckDB's in-process time", f"{r2:.2f}×", r2 > 1))
            if frss:
                lo = min(frss.values())
                goals.append((f"historical {rows}: lower peak RSS than Feast", f"{lrss / MIB:.0f} vs {lo / MIB:.0f} MiB", lrss < lo))
    if rowcheck:
        print("\nRows returned (input entity rows vs result rows; rows with features = non-null `conv_rate`):\n")
        print("| entity rows × feature rows | tool | entity rows in | result rows | rows with features |")
        print("|---|---|---|---|---|")
        for c, tool, ein, rout, rwf in rowcheck:
            e, size = c.split("x")
            fmt = lambda v: f"{v:,}" if isinstance(v, int) else str(v)
            print(f"| {EROWS[e]:,} × {FROWS[size]:,} | {tool} | {fmt(ein)} | {fmt(rout)} | {fmt(rwf)} |")
    print()


def summary(run):
    G = Groups(load_results(run))
    goals = []
    mpath = os.path.join(run, "machine.txt")
    print(f"# Larder vs Feast 0.67 — run `{os.path.basename(os.path.abspath(run))}`\n")
    if os.path.exists(mpath):
        print("```\n" + open(mpath).read().strip() + "\n```\n")
    section_apply(run, G, goals)
    section_materialize(run, G, goals)
    section_serve(run, goals)
    section_hist(run, G, goals)
    if goals:
        print("## Goals\n")
        print("| goal | figure | |")
        print("|---|---|---|")
        for g, fig, ok in goals:
            print(f"| {g} | {fig} | {goal(ok)} |")
        print()
    st = os.path.join(run, "steps.tsv")
    if os.path.exists(st):
        print("Step durations (s): " + ", ".join(
            f"{l.split()[0]} {l.split()[1]}" + ("" if l.split()[2] == "0" else f" (exit {l.split()[2]})")
            for l in open(st) if l.strip()) + "\n")


# ---------------------------------------------------------------------------------------------
def compare_responses(a, b):
    """Same values and event timestamps per feature name? (Feast orders features by a set, and only
    knows PRESENT/NOT_FOUND; Larder also says OUTSIDE_MAX_AGE/NULL_VALUE -- docs/feast-compatibility.md.)"""
    try:
        A, B = json.load(open(a)), json.load(open(b))
    except Exception as e:  # noqa: BLE001
        print(f"cannot compare: {e}")
        return 1

    def by_name(d):
        return {n: r for n, r in zip(d["metadata"]["feature_names"], d["results"])}

    la, fb = by_name(A), by_name(B)
    diffs, status = [], defaultdict(int)
    if set(la) != set(fb):
        diffs.append(f"feature names differ: {sorted(la)} vs {sorted(fb)}")
    for n in sorted(set(la) & set(fb)):
        for k in ("values", "event_timestamps"):
            if la[n].get(k) != fb[n].get(k):
                diffs.append(f"{n}.{k}: larder {la[n].get(k)} vs feast {fb[n].get(k)}")
        for s1, s2 in zip(la[n].get("statuses", []), fb[n].get("statuses", [])):
            if s1 != s2:
                status[f"larder {s1} / feast {s2}"] += 1
    if diffs:
        print("responses DIFFER: " + "; ".join(diffs))
    else:
        print("same feature values and event timestamps for ids 1001, 1002, 150000 (missing), 200001 (missing)"
              + (" (statuses differ as documented: " + ", ".join(f"{k}: {v}" for k, v in sorted(status.items())) + ")"
                 if status else ", same statuses"))
    return 0


def count_parquet(path, label):
    import pyarrow.parquet as pq
    t = pq.read_table(path)
    col = "conv_rate" if "conv_rate" in t.column_names else t.column_names[-1]
    print(json.dumps({"label": label, "result_rows": t.num_rows, "rows_with_features": t.num_rows - t[col].null_count,
                      "columns": t.column_names}, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run")
    ap.add_argument("--compare-responses", nargs=2)
    ap.add_argument("--count-parquet")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    if a.compare_responses:
        return compare_responses(*a.compare_responses)
    if a.count_parquet:
        return count_parquet(a.count_parquet, a.label)
    if a.run:
        summary(a.run)
        return 0
    ap.error("one of --run, --compare-responses, --count-parquet")


if __name__ == "__main__":
    sys.exit(main())
