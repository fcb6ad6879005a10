//! A temporary feature repo and a runner for the `larder` binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use assert_cmd::Command;

/// A temp dir holding a feature repo.
pub(crate) struct Repo {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
}

/// What a run printed.
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) const DEFINITIONS: &str = r#"entities:
  - name: driver
    join_keys: [driver_id]
    value_type: Int64
    description: driver id
sources:
  - name: driver_stats_source
    path: data/driver_stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 2d
    source: driver_stats_source
    tags: {team: drivers}
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: trips, dtype: Int64}
      - {name: city, dtype: String}
feature_services:
  - name: driver_activity
    features: [driver_hourly_stats]
"#;

impl Repo {
    /// A repo with `feature_store.yaml` for `project` (SQLite online store), the standard
    /// definitions and data.
    pub(crate) fn new(project: &str) -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let repo = Repo { _dir: dir, path };
        repo.write(
            "feature_store.yaml",
            &format!(
                "project: {project}\nregistry: data/registry.db\nprovider: local\nonline_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: file\n"
            ),
        );
        repo.write("definitions.yaml", DEFINITIONS);
        write_driver_stats(&repo.path.join("data/driver_stats.parquet"));
        repo
    }

    /// Writes a file in the repo (creating directories).
    pub(crate) fn write(&self, name: &str, text: &str) {
        let p = self.path.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Runs `larder -c <repo> <args>`.
    pub(crate) fn larder(&self, args: &[&str]) -> Output {
        let mut cmd = Command::cargo_bin("larder").expect("larder binary");
        cmd.arg("-c")
            .arg(&self.path)
            .args(args)
            .env_remove("FEAST_FS_YAML_FILE_PATH");
        let out = cmd.output().expect("run larder");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts success, returning standard output.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.larder(args);
        assert_eq!(
            out.code, 0,
            "larder {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs and asserts failure with exit code 2, returning standard error.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let out = self.larder(args);
        assert_eq!(
            out.code, 2,
            "larder {args:?} should fail:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stderr
    }

    /// The repo directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.path
    }
}

/// Three drivers (1001..1003), two rows each on 2026-10-01 and 2026-10-02 at 12:00 UTC; the later row
/// of driver 1002 has a null city.
pub(crate) fn write_driver_stats(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", ts.clone(), false),
        Field::new("created", ts, false),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("trips", DataType::Int64, true),
        Field::new("city", DataType::Utf8, true),
    ]));
    let day1 = 1_790_856_000_000_000i64; // 2026-10-01T12:00:00Z
    let day2 = day1 + 86_400_000_000;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1001, 1002, 1003, 1001, 1002, 1003])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![day1, day1, day1, day2, day2, day2])
                .with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMicrosecondArray::from(vec![day1, day1, day1, day2, day2, day2])
                .with_timezone("UTC"),
        ),
        Arc::new(Float32Array::from(vec![0.1, 0.2, 0.3, 0.5, 0.25, 0.75])),
        Arc::new(Int64Array::from(vec![1, 2, 3, 10, 20, 30])),
        Arc::new(StringArray::from(vec![
            Some("Oslo"),
            Some("Lima"),
            Some("Rome"),
            Some("Oslo"),
            None,
            Some("Rome"),
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}
