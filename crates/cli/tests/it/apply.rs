//! `init`, `plan`, `apply`, `teardown`, listing and `registry-dump` on temporary repos.

use crate::harness::{DEFINITIONS, Repo};

#[test]
fn plan_on_a_new_repo_lists_every_object_and_table() {
    let repo = Repo::new("demo");
    let plan = repo.ok(&["plan"]);
    assert_eq!(
        plan,
        "Created project demo\n\
         Created entity driver\n\
         Created feature view driver_hourly_stats\n\
         Created feature service driver_activity\n\
         Created sqlite table demo_driver_hourly_stats\n"
    );
    assert!(
        !repo.dir().join("data/registry.db").exists(),
        "plan must not write the registry"
    );
}

#[test]
fn apply_twice_reports_exactly_no_changes() {
    let repo = Repo::new("demo");
    let first = repo.ok(&["apply"]);
    assert!(
        first.starts_with("Applying changes for project demo\nCreated project demo\n"),
        "{first}"
    );
    assert!(repo.dir().join("data/registry.db").exists());
    let second = repo.ok(&["apply"]);
    assert_eq!(
        second,
        "Applying changes for project demo\nNo changes to registry\nNo changes to infrastructure\n"
    );
    assert_eq!(
        repo.ok(&["plan"]),
        "No changes to registry\nNo changes to infrastructure\n"
    );
}

#[test]
fn plan_shows_changed_fields_old_and_new() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let changed = DEFINITIONS
        .replace("ttl: 2d", "ttl: 36h")
        .replace("tags: {team: drivers}", "tags: {team: ops}")
        .replace("      - {name: city, dtype: String}\n", "");
    repo.write("definitions.yaml", &changed);
    assert_eq!(
        repo.ok(&["plan"]),
        "Updated feature view driver_hourly_stats\n\
         \tfeatures: [conv_rate: FLOAT, trips: INT64, city: STRING] -> [conv_rate: FLOAT, trips: INT64]\n\
         \ttags: {team: drivers} -> {team: ops}\n\
         \tttl: 2d -> 1d12h\n\
         Updated feature service driver_activity\n\
         \tfeatures: [driver_hourly_stats(conv_rate: FLOAT, trips: INT64, city: STRING)] -> [driver_hourly_stats(conv_rate: FLOAT, trips: INT64)]\n\
         No changes to infrastructure\n"
    );
    repo.ok(&["apply"]);
    let views = repo.ok(&["feature-views", "list"]);
    assert!(
        views.contains("driver_hourly_stats  driver    2         1d12h"),
        "{views}"
    );
}

#[test]
fn removing_a_view_deletes_its_table_and_objects() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let without_view = DEFINITIONS
        .split("feature_views:")
        .next()
        .unwrap()
        .to_string();
    repo.write("definitions.yaml", &without_view);
    let out = repo.ok(&["apply"]);
    assert!(
        out.contains("Deleted feature view driver_hourly_stats\n"),
        "{out}"
    );
    assert!(
        out.contains("Deleted feature service driver_activity\n"),
        "{out}"
    );
    assert!(
        out.contains("Deleted sqlite table demo_driver_hourly_stats"),
        "{out}"
    );
    let db = rusqlite_tables(&repo.dir().join("data/online.db"));
    assert!(db.is_empty(), "tables left: {db:?}");
}

fn rusqlite_tables(path: &std::path::Path) -> Vec<String> {
    if !path.exists() {
        return Vec::new();
    }
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("SELECT name FROM sqlite_master WHERE type='table'")
        .output()
        .expect("sqlite3 is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn teardown_removes_the_project_and_its_online_data() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.ok(&["materialize", "2026-10-01T00:00:00", "2026-10-03T00:00:00"]);
    assert!(repo.dir().join("data/online.db").exists());
    assert_eq!(repo.ok(&["teardown"]), "Tore down project demo\n");
    assert!(
        !repo.dir().join("data/online.db").exists(),
        "the SQLite store is deleted as Feast does"
    );
    assert_eq!(
        repo.ok(&["feature-views", "list"]),
        "NAME  ENTITIES  FEATURES  TTL  ONLINE  SOURCE\n"
    );
    assert!(repo.ok(&["projects", "list"]).lines().count() == 1);
}

#[test]
fn listing_and_describing_objects() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    assert_eq!(
        repo.ok(&["entities", "list"]),
        "NAME    JOIN KEY   TYPE   DESCRIPTION\ndriver  driver_id  Int64  driver id\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&repo.ok(&["feature-views", "list", "--json"])).unwrap();
    assert_eq!(json[0]["spec"]["name"], "driver_hourly_stats");
    assert_eq!(json[0]["spec"]["ttl"], "172800s");
    assert_eq!(json[0]["spec"]["features"][0]["valueType"], "FLOAT");
    let described = repo.ok(&["entities", "describe", "driver"]);
    assert!(
        described.contains("joinKey: driver_id") && described.contains("valueType: INT64"),
        "{described}"
    );
    let services = repo.ok(&["feature-services", "list"]);
    assert!(services.contains(
        "driver_hourly_stats:conv_rate, driver_hourly_stats:trips, driver_hourly_stats:city"
    ));
    let sources = repo.ok(&["data-sources", "list"]);
    assert!(
        sources.contains("driver_stats_source  file  data/driver_stats.parquet  event_timestamp"),
        "{sources}"
    );
}

#[test]
fn registry_dump_has_feasts_shape() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let dump: serde_json::Value = serde_json::from_str(&repo.ok(&["registry-dump"])).unwrap();
    let keys: Vec<&String> = dump.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "dataSources",
            "entities",
            "featureServices",
            "featureViews",
            "infra",
            "project"
        ]
    );
    let entities: Vec<&str> = dump["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spec"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        entities,
        ["__dummy", "driver"],
        "Feast always applies the __dummy entity"
    );
    assert_eq!(dump["infra"][0]["name"], "demo_driver_hourly_stats");
}

#[test]
fn other_projects_in_the_same_registry_survive() {
    let repo = Repo::new("first");
    repo.ok(&["apply"]);
    repo.write(
        "feature_store.yaml",
        "project: second\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online2.db\n",
    );
    repo.ok(&["apply"]);
    let projects = repo.ok(&["projects", "list"]);
    assert!(
        projects.contains("first") && projects.contains("second"),
        "{projects}"
    );
    repo.ok(&["teardown"]);
    assert!(repo.ok(&["projects", "list"]).contains("first"));
}

#[test]
fn init_creates_a_repo_that_applies_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = assert_cmd::Command::cargo_bin("larder").unwrap();
    let out = cmd
        .current_dir(dir.path())
        .args(["init", "demo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("larder apply") && stdout.contains("336000 rows"),
        "{stdout}"
    );
    let repo = dir.path().join("demo");
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("larder")
            .unwrap()
            .arg("-c")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["apply"]);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let out = run(&["materialize-incremental", &now]);
    assert!(
        out.contains("Materialized 2000 rows into 2 feature views"),
        "{out}"
    );
    let online: serde_json::Value = serde_json::from_str(&run(&[
        "get-online-features",
        "-f",
        "driver_hourly_stats:conv_rate",
        "-e",
        "driver_id=1001",
    ]))
    .unwrap();
    assert_eq!(online["results"][1]["statuses"][0], "PRESENT");
    let again = assert_cmd::Command::cargo_bin("larder")
        .unwrap()
        .current_dir(dir.path())
        .args(["init", "demo"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "init refuses a non-empty directory"
    );
}
