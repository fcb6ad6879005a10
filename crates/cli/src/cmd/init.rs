//! `init`: a working example repo (the driver-stats quickstart) with deterministic generated data.

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DurationRound, TimeDelta, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

const DRIVERS: i64 = 1000;
const HOURS: i64 = 14 * 24;
const FIRST_DRIVER: i64 = 1001;
const CITIES: [&str; 8] = [
    "Amsterdam",
    "Berlin",
    "Chicago",
    "Delhi",
    "Lagos",
    "Lima",
    "Oslo",
    "Tokyo",
];

pub(crate) fn run(name: Option<&str>) -> Result<ExitCode> {
    let dir_name = name.unwrap_or("feature_repo");
    let dir = Path::new(dir_name);
    if dir.exists()
        && fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty: pick another name or remove it",
            dir.display()
        );
    }
    let project = project_name(dir_name);
    fs::create_dir_all(dir.join("data"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let abs = fs::canonicalize(dir)?;
    println!("Creating a new Larder repository in {}.", abs.display());
    fs::write(dir.join("feature_store.yaml"), feature_store_yaml(&project))?;
    fs::write(dir.join("features.yaml"), DEFINITIONS)?;
    let rows = write_driver_stats(&dir.join("data/driver_stats.parquet"))?;
    println!(
        "Generated data/driver_stats.parquet: {rows} rows ({DRIVERS} drivers x {HOURS} hours, ending this hour)."
    );
    println!(
        "\nNext:\n  cd {dir_name}\n  larder apply\n  larder materialize-incremental {}\n  larder get-online-features -f driver_hourly_stats:conv_rate -e driver_id=1001",
        Utc::now().format("%Y-%m-%dT%H:%M:%S")
    );
    Ok(ExitCode::SUCCESS)
}

/// A valid project name from a directory name: letters, digits and `_`.
fn project_name(dir: &str) -> String {
    let base = Path::new(dir)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("feature_repo");
    let mut name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while name.starts_with('_') {
        name.remove(0);
    }
    if name.is_empty() {
        "feature_repo".into()
    } else {
        name
    }
}

fn feature_store_yaml(project: &str) -> String {
    format!(
        "project: {project}\n\
         # The registry: Feast's registry.db format, readable by Feast 0.67.\n\
         registry: data/registry.db\n\
         provider: local\n\
         online_store:\n  type: sqlite\n  path: data/online_store.db\n\
         offline_store:\n  type: file\n\
         entity_key_serialization_version: 3\n"
    )
}

const DEFINITIONS: &str = r#"# Definitions for Larder (and, in equivalent Python, for Feast).
entities:
  - name: driver
    join_keys: [driver_id]
    value_type: Int64
    description: A driver of the ride-hailing service

sources:
  - name: driver_stats_source
    path: data/driver_stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created
  - name: driver_stats_push_source
    kind: push
    batch_source: driver_stats_source

feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 1d
    source: driver_stats_source
    online: true
    tags: {team: driver_performance}
    schema:
      - {name: conv_rate, dtype: Float32, description: Conversion rate}
      - {name: acc_rate, dtype: Float32, description: Acceptance rate}
      - {name: avg_daily_trips, dtype: Int64, description: Average daily trips}
      - {name: rating, dtype: Float64}
      - {name: city, dtype: String}
  - name: driver_hourly_stats_fresh
    entities: [driver]
    ttl: 1d
    source: driver_stats_push_source
    online: true
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: acc_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}

feature_services:
  - name: driver_activity
    features:
      - driver_hourly_stats:conv_rate
      - driver_hourly_stats:acc_rate
      - driver_hourly_stats:avg_daily_trips
  - name: driver_activity_fresh
    features: [driver_hourly_stats_fresh]
"#;

/// A small deterministic generator (xorshift64*), so the same hour gives the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn schema() -> Arc<Schema> {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", ts.clone(), false),
        Field::new("created", ts, false),
        Field::new("conv_rate", DataType::Float32, true),
        Field::new("acc_rate", DataType::Float32, true),
        Field::new("avg_daily_trips", DataType::Int64, true),
        Field::new("rating", DataType::Float64, true),
        Field::new("city", DataType::Utf8, true),
    ]))
}

/// Writes `DRIVERS × HOURS` hourly rows ending at the current hour; returns the row count.
fn write_driver_stats(path: &Path) -> Result<usize> {
    let end = Utc::now()
        .duration_trunc(TimeDelta::hours(1))?
        .timestamp_micros();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props))?;
    let mut rng = Rng(0x5EED_1A2D_E400_0001);
    for hour in (0..HOURS).rev() {
        writer.write(&hour_batch(&mut rng, end - hour * 3_600_000_000)?)?;
    }
    writer.close()?;
    Ok((DRIVERS * HOURS) as usize)
}

fn hour_batch(rng: &mut Rng, ts: i64) -> Result<RecordBatch> {
    let n = DRIVERS as usize;
    let ids: Vec<i64> = (FIRST_DRIVER..FIRST_DRIVER + DRIVERS).collect();
    let created: Vec<i64> = (0..n)
        .map(|_| ts + (rng.next() % 60) as i64 * 1_000_000)
        .collect();
    let conv: Vec<f32> = (0..n).map(|_| rng.unit() as f32).collect();
    let acc: Vec<f32> = (0..n).map(|_| rng.unit() as f32).collect();
    let trips: Vec<i64> = (0..n).map(|_| (rng.next() % 1000) as i64).collect();
    let rating: Vec<f64> = (0..n)
        .map(|_| ((1.0 + 4.0 * rng.unit()) * 100.0).round() / 100.0)
        .collect();
    let city: Vec<&str> = (0..n)
        .map(|_| CITIES[(rng.next() % CITIES.len() as u64) as usize])
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(TimestampMicrosecondArray::from(vec![ts; n]).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(created).with_timezone("UTC")),
        Arc::new(Float32Array::from(conv)),
        Arc::new(Float32Array::from(acc)),
        Arc::new(Int64Array::from(trips)),
        Arc::new(Float64Array::from(rating)),
        Arc::new(StringArray::from(city)),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_valid() {
        assert_eq!(project_name("demo"), "demo");
        assert_eq!(project_name("my-repo"), "my_repo");
        assert_eq!(project_name("_x"), "x");
        assert_eq!(project_name("path/to/demo"), "demo");
    }

    #[test]
    fn generator_is_deterministic() {
        let a = hour_batch(&mut Rng(7), 0).unwrap();
        let b = hour_batch(&mut Rng(7), 0).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.num_rows(), DRIVERS as usize);
    }
}
