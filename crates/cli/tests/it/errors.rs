//! Bad input gets an error naming the file, object, field or value, and exit status 2.

use crate::harness::{DEFINITIONS, Repo};

#[test]
fn a_directory_without_feature_store_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("larder")
        .unwrap()
        .arg("-c")
        .arg(dir.path())
        .arg("plan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feature_store.yaml: not found") && err.contains("larder init"),
        "{err}"
    );
}

#[test]
fn unknown_store_setting_names_the_key() {
    let repo = Repo::new("demo");
    repo.write(
        "feature_store.yaml",
        "project: demo\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  paht: x.db\n",
    );
    let err = repo.fails(&["plan"]);
    assert!(
        err.contains("feature_store.yaml")
            && err.contains("online_store.paht")
            && err.contains("valid keys"),
        "{err}"
    );
}

#[test]
fn every_definition_problem_is_reported_at_once_and_nothing_is_written() {
    let repo = Repo::new("demo");
    let broken = DEFINITIONS
        .replace("entities: [driver]", "entities: [drivr]")
        .replace("{name: trips, dtype: Int64}", "{name: trips, dtype: Int65}")
        .replace(
            "path: data/driver_stats.parquet",
            "path: data/missing.parquet",
        );
    repo.write("definitions.yaml", &broken);
    let err = repo.fails(&["apply"]);
    assert!(
        err.contains("3 problems") || err.contains("problems:"),
        "{err}"
    );
    assert!(err.contains("definitions.yaml:"), "{err}");
    assert!(err.contains("drivr"), "dangling entity named: {err}");
    assert!(err.contains("Int65"), "unknown dtype named: {err}");
    assert!(err.contains("missing.parquet"), "missing file named: {err}");
    assert!(
        !repo.dir().join("data/registry.db").exists(),
        "nothing written on failure"
    );
}

#[test]
fn unknown_views_features_and_entities_in_online_reads() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let err = repo.fails(&[
        "get-online-features",
        "-f",
        "nope:conv_rate",
        "-e",
        "driver_id=1",
    ]);
    assert!(err.contains("feature view `nope` does not exist"), "{err}");
    let err = repo.fails(&[
        "get-online-features",
        "-f",
        "driver_hourly_stats:nope",
        "-e",
        "driver_id=1",
    ]);
    assert!(
        err.contains("feature `nope` does not exist in feature view `driver_hourly_stats`")
            && err.contains("conv_rate"),
        "{err}"
    );
    let err = repo.fails(&[
        "get-online-features",
        "-f",
        "driver_hourly_stats:trips",
        "-e",
        "driver_id=abc",
    ]);
    assert!(err.contains("driver_id") && err.contains("abc"), "{err}");
    let err = repo.fails(&[
        "get-online-features",
        "-f",
        "driver_hourly_stats:trips",
        "-e",
        "rider=1",
    ]);
    assert!(err.contains("rider") && err.contains("driver_id"), "{err}");
}

#[test]
fn historical_entity_file_problems() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.write(
        "rows.csv",
        "driver,event_timestamp\n1001,2026-10-02T12:00:00Z\n",
    );
    let err = repo.fails(&[
        "get-historical-features",
        "--entities",
        "rows.csv",
        "-f",
        "driver_hourly_stats:trips",
    ]);
    assert!(err.contains("driver_id"), "missing join key named: {err}");
    let err = repo.fails(&[
        "get-historical-features",
        "--entities",
        "nope.csv",
        "-f",
        "driver_hourly_stats:trips",
    ]);
    assert!(err.contains("nope.csv"), "{err}");
}

#[test]
fn historical_output_is_replaced_only_when_complete() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.write("out.parquet", "the previous training set");
    repo.write(
        "bad.csv",
        "driver,event_timestamp\n1001,2026-10-02T12:00:00Z\n",
    );
    repo.write(
        "rows.csv",
        "driver_id,event_timestamp\n1001,2026-10-02T12:00:00Z\n",
    );
    let partial_files = || {
        std::fs::read_dir(repo.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".partial"))
            .collect::<Vec<_>>()
    };
    let retrieve = |entities: &str, output: &str| {
        repo.larder(&[
            "get-historical-features",
            "--entities",
            entities,
            "-f",
            "driver_hourly_stats:trips",
            "-o",
            output,
        ])
    };
    let failed = retrieve("bad.csv", "out.parquet");
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert_eq!(
        std::fs::read_to_string(repo.dir().join("out.parquet")).unwrap(),
        "the previous training set",
        "a failed retrieval keeps the earlier file"
    );
    assert_eq!(partial_files(), Vec::<String>::new());

    let done = retrieve("rows.csv", "out.parquet");
    assert_eq!(done.code, 0, "{}", done.stderr);
    let written = std::fs::read(repo.dir().join("out.parquet")).unwrap();
    assert!(written.starts_with(b"PAR1") && written.ends_with(b"PAR1"));
    assert_eq!(partial_files(), Vec::<String>::new());

    let nowhere = retrieve("rows.csv", "no/such/dir/out.parquet");
    assert_eq!(nowhere.code, 2);
    assert!(
        nowhere.stderr.contains("no/such/dir/out.parquet"),
        "{}",
        nowhere.stderr
    );
}
