//! Tests of [`load_repo`](super::load_repo): the Feast fixture, inference, each kind of source, service
//! references, and one test per class of problem checking that the message names the culprit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::infer::tests::write_parquet;
use super::load_repo;
use crate::config::RepoConfig;
use crate::error::{Error, Problem};
use crate::model::{DUMMY_ENTITY_NAME, FileFormat, RepoContents, SourceKind};
use crate::types::ValueType;

/// A temporary repo with `feature_store.yaml` for project `demo`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.write(
            "feature_store.yaml",
            "project: demo\nregistry: data/registry.db\nprovider: local\n",
        );
        repo
    }

    /// A repo with `data/stats.parquet` (driver_id, event_timestamp, created, conv_rate, city) and `defs`
    /// in `defs.yaml`.
    fn with_stats(defs: &str) -> Self {
        let repo = Repo::new();
        repo.parquet("data/stats.parquet", STATS_COLUMNS);
        repo.write("defs.yaml", defs);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn parquet(&self, name: &str, columns: &[(&str, &str)]) {
        write_parquet(&self.path().join(name), columns);
    }

    fn config(&self) -> RepoConfig {
        RepoConfig::load(&self.path().join("feature_store.yaml")).unwrap()
    }

    fn load(&self) -> RepoContents {
        match load_repo(&self.config()) {
            Ok(contents) => contents,
            Err(e) => panic!("expected the repo to load, got: {e}"),
        }
    }

    fn problems(&self) -> Vec<Problem> {
        match load_repo(&self.config()) {
            Err(Error::Definitions(problems)) => problems,
            other => panic!("expected definition problems, got {other:?}"),
        }
    }
}

const STATS_COLUMNS: &[(&str, &str)] = &[
    ("driver_id", "i64"),
    ("event_timestamp", "ts"),
    ("created", "ts"),
    ("conv_rate", "f32"),
    ("city", "str"),
];

const ENTITY_AND_SOURCE: &str = "\
entities:
  - name: driver
    join_keys: [driver_id]
    value_type: Int64
sources:
  - name: stats
    path: data/stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created
";

/// The only problem, checked to be in `file` at `line` about `object` / `field`, with `words` in its message.
#[track_caller]
fn expect_one(
    problems: &[Problem],
    file: &str,
    line: usize,
    object: &str,
    field: &str,
    words: &[&str],
) {
    assert_eq!(
        problems.len(),
        1,
        "expected one problem, got:\n{}",
        show(problems)
    );
    expect(&problems[0], file, line, object, field, words);
}

#[track_caller]
fn expect(p: &Problem, file: &str, line: usize, object: &str, field: &str, words: &[&str]) {
    assert_eq!(p.file, PathBuf::from(file), "{p}");
    assert_eq!(p.line, Some(line), "{p}");
    assert_eq!(
        p.object.as_deref(),
        Some(object).filter(|o| !o.is_empty()),
        "{p}"
    );
    assert_eq!(
        p.field.as_deref(),
        Some(field).filter(|f| !f.is_empty()),
        "{p}"
    );
    for word in words {
        assert!(p.message.contains(word), "`{word}` not in: {p}");
    }
}

fn show(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}\n")).collect()
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/feast-0.67/driver_demo")
}

#[test]
fn the_feast_fixture_loads() {
    let dir = fixture_dir();
    let config = RepoConfig::load(&dir.join("feature_store.yaml")).unwrap();
    let repo = load_repo(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(repo.project.name, "feast_demo");
    assert_eq!(repo.entities.len(), 1);
    let driver = &repo.entities[0];
    assert_eq!(
        (driver.name.as_str(), driver.join_key.as_str()),
        ("driver", "driver_id")
    );
    assert_eq!(
        (driver.value_type, driver.description.as_str()),
        (ValueType::Int64, "driver id")
    );

    let [source] = repo.data_sources.as_slice() else {
        panic!("{:?}", repo.data_sources)
    };
    assert_eq!(source.name, "driver_stats_source");
    let SourceKind::File { path, format } = &source.kind else {
        panic!()
    };
    assert_eq!(
        (path.as_str(), *format),
        ("data/driver_stats.parquet", FileFormat::Parquet)
    );
    assert_eq!(
        (
            source.timestamp_field.as_str(),
            source.created_timestamp_column.as_str()
        ),
        ("event_timestamp", "created")
    );

    let [view] = repo.feature_views.as_slice() else {
        panic!()
    };
    assert_eq!(view.name, "driver_hourly_stats");
    assert_eq!(view.entities, ["driver"]);
    assert_eq!(view.ttl, Duration::from_secs(172_800));
    assert_eq!(view.features.len(), 10);
    assert_eq!(
        view.feature_names(),
        "conv_rate, acc_rate, avg_daily_trips, rating, earnings, distance_km, trips_today, cancellations, speed_avg, city"
    );
    assert_eq!(view.feature("conv_rate").unwrap().dtype, ValueType::Float);
    assert_eq!(view.feature("rating").unwrap().dtype, ValueType::Double);
    assert_eq!(view.feature("city").unwrap().dtype, ValueType::String);
    assert_eq!(
        view.entity_columns,
        [crate::model::Field::new("driver_id", ValueType::Int64)]
    );
    assert_eq!(view.tags.get("team").map(String::as_str), Some("drivers"));
    assert!(view.online && !view.offline);
    assert_eq!(view.batch_source, *source);
    assert!(view.stream_source.is_none());

    let [service] = repo.feature_services.as_slice() else {
        panic!()
    };
    assert_eq!(service.name, "driver_activity");
    let [projection] = service.projections.as_slice() else {
        panic!()
    };
    assert_eq!(projection.view, "driver_hourly_stats");
    assert_eq!(projection.features, view.features);
    assert!(projection.alias.is_none() && projection.join_key_map.is_empty());
}

#[test]
fn an_empty_repo_has_the_configured_project() {
    let repo = Repo::new();
    repo.write(
        "feature_store.yaml",
        "project: demo\nproject_description: the demo\nregistry: r.db\n",
    );
    repo.write("empty.yaml", "# nothing yet\n");
    let contents = repo.load();
    assert_eq!(
        (
            contents.project.name.as_str(),
            contents.project.description.as_str()
        ),
        ("demo", "the demo")
    );
    assert!(contents.entities.is_empty() && contents.feature_views.is_empty());
}

#[test]
fn a_project_object_sets_description_tags_and_owner() {
    let repo =
        Repo::with_stats("project: {name: demo, description: mine, tags: {a: b}, owner: me@x}\n");
    let project = repo.load().project;
    assert_eq!(
        (
            project.name.as_str(),
            project.description.as_str(),
            project.owner.as_str()
        ),
        ("demo", "mine", "me@x")
    );
    assert_eq!(project.tags.get("a").map(String::as_str), Some("b"));
}

#[test]
fn anchors_and_merge_keys_work() {
    let repo = Repo::with_stats(
        "entities:\n  - &base {name: a, owner: me, tags: {team: x}}\n  - <<: *base\n    name: b\n",
    );
    let entities = repo.load().entities;
    assert_eq!(entities.len(), 2);
    assert_eq!(
        (entities[1].name.as_str(), entities[1].owner.as_str()),
        ("b", "me")
    );
    assert_eq!(entities[1].tags, entities[0].tags);
}

#[test]
fn features_and_timestamp_are_inferred_without_a_schema() {
    let repo = Repo::new();
    repo.parquet(
        "data/t.parquet",
        &[
            ("driver_id", "i64"),
            ("ts", "ts"),
            ("created", "ts"),
            ("conv", "f32"),
            ("__internal", "i64"),
            ("city", "str"),
            ("day", "str"),
        ],
    );
    repo.write(
        "defs.yaml",
        "entities: [{name: driver, join_keys: [driver_id], value_type: Int64}]\n\
         sources:\n  - {name: s, path: data/t.parquet, created_timestamp_column: created, date_partition_column: day, field_mapping: {conv: conv_rate}}\n\
         feature_views: [{name: v, entities: [driver], source: s, ttl: 3600}]\n",
    );
    let contents = repo.load();
    assert_eq!(contents.data_sources[0].timestamp_field, "ts");
    let view = &contents.feature_views[0];
    assert_eq!(view.feature_names(), "conv_rate, city");
    assert_eq!(view.feature("conv_rate").unwrap().dtype, ValueType::Float);
    assert_eq!(
        view.entity_columns,
        [crate::model::Field::new("driver_id", ValueType::Int64)]
    );
    assert_eq!(view.ttl, Duration::from_secs(3600));
}

#[test]
fn an_entity_without_a_type_stays_unknown_and_the_view_types_its_column() {
    let repo = Repo::with_stats(
        "entities: [{name: driver_id}]\n\
         sources: [{name: stats, path: data/stats.parquet, timestamp_field: event_timestamp}]\n\
         feature_views: [{name: v, entities: [driver_id], source: stats, schema: [{name: city, dtype: String}]}]\n",
    );
    let contents = repo.load();
    assert_eq!(contents.entities[0].value_type, ValueType::Unknown);
    assert_eq!(contents.entities[0].join_key, "driver_id");
    let view = &contents.feature_views[0];
    assert_eq!(
        view.entity_columns,
        [crate::model::Field::new("driver_id", ValueType::Int64)]
    );
    assert_eq!(view.feature_names(), "city");
}

#[test]
fn entity_less_views_use_the_dummy_entity() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views: [{{name: v, source: stats, ttl: 0, schema: [{{name: conv_rate, dtype: Float32}}]}}]\n"
    ));
    let view = &repo.load().feature_views[0];
    assert_eq!(view.entities, [DUMMY_ENTITY_NAME]);
    assert!(view.entity_columns.is_empty());
    assert!(view.ttl_is_forever());
}

#[test]
fn push_and_request_sources() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}  - {{name: stats_push, kind: push, batch_source: stats, description: live}}\n\
         \x20 - name: req\n    kind: request\n    schema: [{{name: val, dtype: Float64}}, {{name: tags, dtype: Array(String)}}]\n\
         feature_views: [{{name: v, entities: [driver], source: stats_push, offline: true}}]\n"
    ));
    let contents = repo.load();
    let names: Vec<_> = contents
        .data_sources
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["stats", "stats_push", "req"]);
    let push = &contents.data_sources[1];
    assert_eq!(push.batch().name, "stats");
    assert_eq!(
        (push.description.as_str(), push.timestamp_field.as_str()),
        ("live", "")
    );
    let SourceKind::Request { schema } = &contents.data_sources[2].kind else {
        panic!()
    };
    assert_eq!(
        schema[1],
        crate::model::Field::new("tags", ValueType::StringList)
    );
    let view = &contents.feature_views[0];
    assert_eq!(view.batch_source.name, "stats");
    assert_eq!(
        view.stream_source.as_ref().map(|s| s.name.as_str()),
        Some("stats_push")
    );
    assert_eq!(view.feature_names(), "conv_rate, city");
    assert!(view.offline);
}

#[test]
fn csv_sources_are_read_with_inferred_types() {
    let repo = Repo::new();
    repo.write(
        "data/t.csv",
        "driver_id,event_timestamp,rate,city\n1,2026-01-01 00:00:00+00:00,0.5,Oslo\n2,2026-01-02 00:00:00+00:00,1.5,Rome\n",
    );
    repo.write(
        "defs.yaml",
        "entities: [{name: driver, join_keys: [driver_id]}]\n\
         sources: [{name: s, path: data/t.csv}]\n\
         feature_views: [{name: v, entities: [driver], source: s, schema: [{name: rate, dtype: Float32}]}]\n",
    );
    let contents = repo.load();
    let source = &contents.data_sources[0];
    assert!(matches!(
        source.kind,
        SourceKind::File {
            format: FileFormat::Csv,
            ..
        }
    ));
    assert_eq!(source.timestamp_field, "event_timestamp");
    assert_eq!(
        contents.feature_views[0].entity_columns[0].dtype,
        ValueType::Int64
    );
}

#[test]
fn service_references_merge_per_view() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}\
         feature_views:\n  - {{name: v, entities: [driver], source: stats}}\n  - {{name: w, entities: [driver], source: stats}}\n\
         feature_services:\n  - name: svc\n    features:\n      - v:city\n      - w\n      - v:conv_rate\n      - v:city\n\
         \x20     - {{view: v, features: [conv_rate], alias: v2, join_key_map: {{driver_id: other_driver}}}}\n"
    ));
    let svc = &repo.load().feature_services[0];
    let summary: Vec<(String, Vec<&str>)> = svc
        .projections
        .iter()
        .map(|p| {
            (
                p.name_to_use().to_string(),
                p.features.iter().map(|f| f.name.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("v".to_string(), vec!["city", "conv_rate"]),
            ("w".to_string(), vec!["conv_rate", "city"]),
            ("v2".to_string(), vec!["conv_rate"]),
        ]
    );
    assert_eq!(svc.projections[2].view, "v");
    assert_eq!(
        svc.projections[2]
            .join_key_map
            .get("driver_id")
            .map(String::as_str),
        Some("other_driver")
    );
}

#[test]
fn problem_yaml_syntax() {
    let repo = Repo::with_stats(
        "entities:\n  - name: driver\n    join_keys: [driver_id\n  - name: other\n",
    );
    let problems = repo.problems();
    assert_eq!(problems.len(), 1, "{}", show(&problems));
    let p = &problems[0];
    assert_eq!(p.file, PathBuf::from("defs.yaml"));
    assert!(p.line.is_some_and(|l| l >= 3), "{p}");
    assert!(p.message.contains("not valid YAML"), "{p}");
}

#[test]
fn problem_unknown_field_names_the_field_and_lists_valid_ones() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    entities: [driver]\n    source: stats\n    ttll: 2d\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        14,
        "feature view v",
        "ttll",
        &["unknown field `ttll`", "ttl,"],
    );
}

#[test]
fn problem_unknown_top_level_key() {
    let repo = Repo::with_stats("entites: []\n");
    expect_one(
        &repo.problems(),
        "defs.yaml",
        1,
        "",
        "entites",
        &["`entites`", "entities, sources, feature_views"],
    );
}

#[test]
fn problem_duplicate_names_across_files_name_both_places() {
    let repo = Repo::with_stats(ENTITY_AND_SOURCE);
    repo.write(
        "more/extra.yml",
        "sources:\n  - {name: Stats, path: data/stats.parquet}\n",
    );
    let problems = repo.problems();
    expect_one(
        &problems,
        "more/extra.yml",
        2,
        "source Stats",
        "name",
        &["more than once", "defs.yaml:6", "case-insensitive"],
    );
}

#[test]
fn problem_invalid_name() {
    let repo = Repo::with_stats("entities: [{name: my.driver}]\n");
    expect_one(
        &repo.problems(),
        "defs.yaml",
        1,
        "entity my.driver",
        "name",
        &["invalid name", "`.`"],
    );
}

#[test]
fn problem_unknown_dtype_lists_the_valid_ones() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    entities: [driver]\n    source: stats\n    schema:\n      - {{name: driver_id, dtype: Int64}}\n      - {{name: city, dtype: String}}\n      - {{name: conv_rate, dtype: Float33}}\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        17,
        "feature view v",
        "schema[2].dtype",
        &["`Float33`", ValueType::dtype_names()],
    );
}

#[test]
fn problem_unknown_entity_type() {
    let repo = Repo::with_stats("entities:\n  - name: driver\n    value_type: Integer\n");
    expect_one(
        &repo.problems(),
        "defs.yaml",
        3,
        "entity driver",
        "value_type",
        &["`Integer`", "Int64"],
    );
}

#[test]
fn problem_dangling_entity_and_source_list_what_exists() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - {{name: v, entities: [drivr], source: stats}}\n  - {{name: w, entities: [driver], source: stat}}\n"
    ));
    let problems = repo.problems();
    assert_eq!(problems.len(), 2, "{}", show(&problems));
    expect(
        &problems[0],
        "defs.yaml",
        11,
        "feature view v",
        "entities[0]",
        &["no entity named `drivr`", "entities: driver"],
    );
    expect(
        &problems[1],
        "defs.yaml",
        12,
        "feature view w",
        "source",
        &["no source named `stat`", "sources: stats"],
    );
}

#[test]
fn problem_dangling_push_batch_source() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}  - {{name: p, kind: push, batch_source: stat}}\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        10,
        "source p",
        "batch_source",
        &["no file source named `stat`", "file sources: stats"],
    );
}

#[test]
fn problem_push_batch_source_must_be_a_file_source() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}  - {{name: p, kind: push, batch_source: q}}\n  - {{name: q, kind: push, batch_source: stats}}\n"
    ));
    let words = ["`q` is a push source", "must be a file source"];
    expect_one(
        &repo.problems(),
        "defs.yaml",
        10,
        "source p",
        "batch_source",
        &words,
    );
}

#[test]
fn problem_dangling_service_view_and_feature() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views: [{{name: v, entities: [driver], source: stats}}]\n\
         feature_services:\n  - name: svc\n    features: [w, \"v:speed\"]\n"
    ));
    let problems = repo.problems();
    assert_eq!(problems.len(), 2, "{}", show(&problems));
    expect(
        &problems[0],
        "defs.yaml",
        13,
        "feature service svc",
        "features[0]",
        &["no feature view named `w`", "feature views: v"],
    );
    expect(
        &problems[1],
        "defs.yaml",
        13,
        "feature service svc",
        "features[1]",
        &["no feature `speed`", "conv_rate, city"],
    );
}

#[test]
fn problem_missing_file_shows_the_resolved_path() {
    let repo = Repo::with_stats("sources:\n  - name: s\n    path: data/nope.parquet\n");
    let problems = repo.problems();
    let resolved = repo.path().join("data/nope.parquet");
    expect_one(
        &problems,
        "defs.yaml",
        3,
        "source s",
        "path",
        &["does not exist", &resolved.display().to_string()],
    );
}

#[test]
fn problem_timestamp_columns_missing_or_not_timestamps() {
    let repo = Repo::with_stats(
        "sources:\n  - name: s\n    path: data/stats.parquet\n    timestamp_field: event_ts\n    created_timestamp_column: city\n",
    );
    let problems = repo.problems();
    assert_eq!(problems.len(), 2, "{}", show(&problems));
    expect(
        &problems[0],
        "defs.yaml",
        4,
        "source s",
        "timestamp_field",
        &[
            "`event_ts` is not a column",
            "driver_id, event_timestamp, created, conv_rate, city",
        ],
    );
    expect(
        &problems[1],
        "defs.yaml",
        5,
        "source s",
        "created_timestamp_column",
        &[
            "`city` has Arrow type Utf8",
            "not a timestamp",
            "event_timestamp, created",
        ],
    );
}

#[test]
fn problem_schema_column_missing_or_incompatible() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    entities: [driver]\n    source: stats\n    schema:\n      - {{name: speed, dtype: Float32}}\n      - {{name: city, dtype: Int64}}\n"
    ));
    let problems = repo.problems();
    assert_eq!(problems.len(), 2, "{}", show(&problems));
    expect(
        &problems[0],
        "defs.yaml",
        15,
        "feature view v",
        "schema[0].name",
        &[
            "`speed` is not a column of `data/stats.parquet`",
            "conv_rate, city",
        ],
    );
    expect(
        &problems[1],
        "defs.yaml",
        16,
        "feature view v",
        "schema[1].dtype",
        &[
            "`city` has Arrow type Utf8",
            "cannot hold Int64",
            "use String",
        ],
    );
}

#[test]
fn problem_join_key_missing_from_the_source() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    entities: [rider]\n    source: stats\n"
    ));
    repo.write(
        "riders.yaml",
        "entities: [{name: rider, join_keys: [rider_id]}]\n",
    );
    let problems = repo.problems();
    let words = [
        "join key `rider_id` of entity `rider` is not a column",
        "driver_id, event_timestamp",
    ];
    expect_one(
        &problems,
        "defs.yaml",
        12,
        "feature view v",
        "entities[0]",
        &words,
    );
}

#[test]
fn problem_bad_ttl() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    source: stats\n    ttl: 2 days\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        13,
        "feature view v",
        "ttl",
        &["`2 days` is not a duration", "0 means forever"],
    );
}

#[test]
fn problem_more_than_one_join_key() {
    let repo =
        Repo::with_stats("entities:\n  - name: trip\n    join_keys: [driver_id, rider_id]\n");
    expect_one(
        &repo.problems(),
        "defs.yaml",
        3,
        "entity trip",
        "join_keys",
        &["exactly one join key", "driver_id, rider_id"],
    );
}

#[test]
fn problem_alias_collision() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - {{name: v, entities: [driver], source: stats}}\n  - {{name: w, entities: [driver], source: stats}}\n\
         feature_services:\n  - name: svc\n    features:\n      - v\n      - {{view: w, alias: v}}\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        17,
        "feature service svc",
        "features[1].alias",
        &["alias collision", "features[0]", "`v`"],
    );
}

#[test]
fn problem_project_name_mismatch() {
    let repo = Repo::with_stats("project:\n  name: other\n");
    expect_one(
        &repo.problems(),
        "defs.yaml",
        2,
        "project other",
        "name",
        &["`other` here but `demo` in feature_store.yaml"],
    );
}

#[test]
fn problem_csv_format_needs_a_csv_path() {
    let repo = Repo::with_stats(
        "sources:\n  - {name: s, path: data/stats.parquet, file_format: csv, timestamp_field: event_timestamp}\n",
    );
    expect_one(
        &repo.problems(),
        "defs.yaml",
        2,
        "source s",
        "file_format",
        &["no CSV format", ".csv"],
    );
}

#[test]
fn problem_field_that_does_not_apply_to_the_kind() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}  - {{name: p, kind: push, batch_source: stats, path: x.parquet}}\n"
    ));
    expect_one(
        &repo.problems(),
        "defs.yaml",
        10,
        "source p",
        "path",
        &["does not apply to a push source", "batch_source"],
    );
}

#[test]
fn three_errors_in_two_files_are_all_reported_in_order() {
    let repo = Repo::with_stats(&format!(
        "{ENTITY_AND_SOURCE}feature_views:\n  - name: v\n    entities: [driver]\n    source: stats\n    ttl: soon\n    schema: [{{name: city, dtype: Text}}]\n"
    ));
    repo.write(
        "a_first.yaml",
        "entities:\n  - name: rider\n    colour: blue\n",
    );
    let problems = repo.problems();
    assert_eq!(problems.len(), 3, "{}", show(&problems));
    expect(
        &problems[0],
        "a_first.yaml",
        3,
        "entity rider",
        "colour",
        &["unknown field"],
    );
    expect(
        &problems[1],
        "defs.yaml",
        14,
        "feature view v",
        "ttl",
        &["`soon`"],
    );
    expect(
        &problems[2],
        "defs.yaml",
        15,
        "feature view v",
        "schema[0].dtype",
        &["`Text`"],
    );
    let text = Error::Definitions(problems).to_string();
    assert!(
        text.starts_with("the repo's definitions have 3 problems:"),
        "{text}"
    );
    assert!(
        text.contains("defs.yaml:14: feature view v, field `ttl`: "),
        "{text}"
    );
}

#[test]
fn an_unreadable_object_causes_no_further_problems() {
    let repo = Repo::with_stats(
        "entities: [{name: driver, join_keys: [driver_id], typo: 1}]\n\
         sources: [{name: stats, path: data/stats.parquet, timestamp_field: event_timestamp}]\n\
         feature_views: [{name: v, entities: [driver], source: stats}]\n",
    );
    expect_one(
        &repo.problems(),
        "defs.yaml",
        1,
        "entity driver",
        "typo",
        &["unknown field"],
    );
}
