//! `pull_latest`: the latest row per entity key in a time range.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use larder_core::ValueType;
use larder_core::model::{CREATED_TS_COLUMN, EVENT_TS_COLUMN};
use larder_offline::{Error, FileOfflineStore, OfflineStore};
use proptest::prelude::*;

use crate::support::{
    batch, collect, column, file_source, i64s, timestamps, ts_us, utc, view, write_csv,
    write_parquet, write_parquet_groups,
};

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-02T00:00:00Z";

fn h(hours: i64) -> i64 {
    crate::support::us(T0) + hours * 3_600_000_000
}

/// Rows of driver 1 and 2 with ties on event time and created time, and rows on both bounds.
fn tie_rows() -> arrow::array::RecordBatch {
    batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(vec![1, 1, 1, 2, 2, 2, 3, 4])) as ArrayRef,
        ),
        (
            "value",
            Arc::new(Float64Array::from(vec![
                1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0,
            ])),
        ),
        (
            "ts",
            ts_us(vec![
                Some(h(5)),
                Some(h(5)),
                Some(h(4)),
                Some(h(24)),
                Some(h(24)),
                Some(h(0)),
                Some(h(-1)),
                Some(h(25)),
            ]),
        ),
        (
            "created",
            ts_us(vec![
                Some(h(7)),
                Some(h(9)),
                Some(h(20)),
                Some(h(30)),
                None,
                Some(h(1)),
                Some(h(0)),
                Some(h(25)),
            ]),
        ),
    ])
}

#[tokio::test]
async fn greatest_event_time_then_created_wins_and_bounds_are_inclusive() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("stats.parquet"), &tie_rows());
    let source = file_source("stats", "stats.parquet", "ts", "created");
    let v = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("value", ValueType::Double)],
        0,
        source,
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let latest = store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap();
    assert_eq!(latest.source_rows, Some(8));
    let got = collect(latest.rows).await;
    let names: Vec<_> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        ["driver_id", "value", EVENT_TS_COLUMN, CREATED_TS_COLUMN]
    );
    assert_eq!(i64s(&got, "driver_id"), [Some(1), Some(2)]);
    let values: Vec<_> = crate::support::column(&got, "value")
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect();
    // driver 1: rows 0 and 1 tie on ts; row 1 has the later created. driver 2: ts on the end bound; the null created loses.
    assert_eq!(values, [Some(2.0), Some(4.0)]);
    assert_eq!(timestamps(&got, EVENT_TS_COLUMN), [Some(h(5)), Some(h(24))]);
    assert_eq!(
        timestamps(&got, CREATED_TS_COLUMN),
        [Some(h(9)), Some(h(30))]
    );
    let start_only = collect(store.pull_latest(&v, utc(T0), utc(T0)).await.unwrap().rows).await;
    assert_eq!(
        i64s(&start_only, "driver_id"),
        [Some(2)],
        "a row exactly on the start is in"
    );
}

#[tokio::test]
async fn full_ties_go_to_the_row_read_last_and_no_created_column_works() {
    let dir = tempfile::tempdir().unwrap();
    let rows = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["a", "a", "b", "a"])) as ArrayRef,
        ),
        ("value", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        (
            "ts",
            ts_us(vec![Some(h(1)), Some(h(2)), Some(h(1)), Some(h(2))]),
        ),
    ]);
    write_parquet(&dir.path().join("s.parquet"), &rows);
    let source = file_source("s", "s.parquet", "ts", "");
    let v = view(
        "v",
        &[("id", ValueType::String)],
        &[("value", ValueType::Int64)],
        0,
        source,
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let got = collect(store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap().rows).await;
    assert_eq!(got.num_columns(), 3, "no created column in the output");
    let mut values = i64s(&got, "value");
    values.sort_unstable();
    assert_eq!(
        values,
        [Some(3), Some(4)],
        "a: the later of two full ties; b: its only row"
    );
}

#[tokio::test]
async fn field_mapping_renames_keys_features_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let rows = batch(vec![
        ("drv", Arc::new(Int64Array::from(vec![1, 1])) as ArrayRef),
        ("raw_value", Arc::new(Int64Array::from(vec![10, 20]))),
        ("when", ts_us(vec![Some(h(1)), Some(h(2))])),
    ]);
    write_parquet(&dir.path().join("m.parquet"), &rows);
    let mut source = file_source("m", "m.parquet", "event_ts", "");
    source.field_mapping = [
        ("drv", "driver_id"),
        ("raw_value", "value"),
        ("when", "event_ts"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .into();
    let v = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("value", ValueType::Int64)],
        0,
        source,
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let got = collect(store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap().rows).await;
    assert_eq!(i64s(&got, "driver_id"), [Some(1)]);
    assert_eq!(i64s(&got, "value"), [Some(20)]);
}

#[tokio::test]
async fn csv_sources_parse_timestamps_and_naive_ones_are_utc() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "driver_id,value,ts,created\n\
               1,1.5,2026-10-01T05:00:00,2026-10-01 06:00:00\n\
               1,2.5,2026-10-01T07:00:00+02:00,2026-10-01T06:00:00Z\n\
               2,3.5,2026-10-01T03:00:00Z,\n";
    std::fs::write(dir.path().join("s.csv"), csv).unwrap();
    let source = file_source("s", "s.csv", "ts", "created");
    let v = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("value", ValueType::Double)],
        0,
        source.clone(),
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let schema = store.source_schema(&source).await.unwrap();
    assert_eq!(
        schema.field_with_name("ts").unwrap().data_type(),
        &larder_core::ValueType::UnixTimestamp.to_arrow().unwrap()
    );
    let latest = store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap();
    assert_eq!(latest.source_rows, None);
    let got = collect(latest.rows).await;
    assert_eq!(i64s(&got, "driver_id"), [Some(1), Some(2)]);
    // 07:00+02:00 is 05:00 UTC: a tie on event time with row 0, broken by created (06:00 both: the later row wins).
    assert_eq!(timestamps(&got, EVENT_TS_COLUMN), [Some(h(5)), Some(h(3))]);
    let values: Vec<_> = column(&got, "value")
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(values, [Some(2.5), Some(3.5)]);
}

#[tokio::test]
async fn entity_less_views_give_at_most_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let rows = batch(vec![
        ("total", Arc::new(Int64Array::from(vec![5, 9, 7]))),
        ("ts", ts_us(vec![Some(h(1)), Some(h(3)), Some(h(2))])),
    ]);
    write_parquet(&dir.path().join("g.parquet"), &rows);
    let v = view(
        "global",
        &[],
        &[("total", ValueType::Int64)],
        0,
        file_source("g", "g.parquet", "ts", ""),
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let got = collect(store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap().rows).await;
    assert_eq!(got.num_columns(), 2);
    assert_eq!(i64s(&got, "total"), [Some(9)]);
    let mut dummy = v.clone();
    dummy.entity_columns = vec![larder_core::model::Field::new(
        larder_core::model::DUMMY_ENTITY_ID,
        ValueType::String,
    )];
    let same = collect(
        store
            .pull_latest(&dummy, utc(T0), utc(T1))
            .await
            .unwrap()
            .rows,
    )
    .await;
    assert_eq!(
        same, got,
        "Feast's placeholder key, absent from the source, means no key"
    );
    let none = collect(
        store
            .pull_latest(&v, utc("2027-01-01T00:00:00Z"), utc("2027-02-01T00:00:00Z"))
            .await
            .unwrap()
            .rows,
    )
    .await;
    assert_eq!(none.num_rows(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_across_files_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let keys = 50_000i64;
    for part in 0..3i64 {
        let ids: Vec<i64> = (0..keys).map(|i| (i * 7919 + part) % keys).collect();
        let values: Vec<i64> = ids.iter().map(|id| id * 10 + part).collect();
        let ts: Vec<Option<i64>> = ids.iter().map(|id| Some(h(part) + id % 3)).collect();
        let rows = batch(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("value", Arc::new(Int64Array::from(values))),
            ("ts", ts_us(ts)),
        ]);
        write_parquet_groups(
            &dir.path().join(format!("data/part-{part}.parquet")),
            &rows,
            10_000,
        );
    }
    let v = view(
        "v",
        &[("id", ValueType::Int64)],
        &[("value", ValueType::Int64)],
        0,
        file_source("s", "data", "ts", ""),
    );
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let latest = store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap();
    assert_eq!(latest.source_rows, Some(3 * keys as u64));
    let got = collect(latest.rows).await;
    assert_eq!(got.num_rows(), keys as usize);
    for (id, value) in i64s(&got, "id").into_iter().zip(i64s(&got, "value")) {
        assert_eq!(
            value.unwrap(),
            id.unwrap() * 10 + 2,
            "the latest part wins for key {id:?}"
        );
    }
}

#[tokio::test]
async fn errors_name_the_view_column_and_file() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("stats.parquet"), &tie_rows());
    let store = FileOfflineStore::new(dir.path().to_path_buf());
    let source = file_source("stats", "stats.parquet", "ts", "created");
    let missing = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("speed", ValueType::Double)],
        0,
        source.clone(),
    );
    let err = store
        .pull_latest(&missing, utc(T0), utc(T1))
        .await
        .unwrap_err();
    let Error::Column { file, message } = &err else {
        panic!("{err}")
    };
    assert!(file.ends_with("stats.parquet"));
    assert!(
        message.contains("feature view `v`") && message.contains("column `speed` (feature)"),
        "{message}"
    );
    assert!(
        message.contains("driver_id, value, ts, created"),
        "{message}"
    );

    let mut wrong_ts = source.clone();
    wrong_ts.timestamp_field = "value".into();
    let v = view("v2", &[("driver_id", ValueType::Int64)], &[], 0, wrong_ts);
    let message = store
        .pull_latest(&v, utc(T0), utc(T1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("stats.parquet") && message.contains("`v2`"),
        "{message}"
    );
    assert!(
        message.contains("column `value` (timestamp_field) has type Float64, not a timestamp"),
        "{message}"
    );

    let gone = view(
        "v3",
        &[],
        &[],
        0,
        file_source("gone", "nowhere/gone.parquet", "ts", ""),
    );
    let message = store
        .pull_latest(&gone, utc(T0), utc(T1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("gone.parquet") && message.contains("source `gone`: no data file found"),
        "{message}"
    );

    std::fs::write(dir.path().join("bad.parquet"), b"not parquet").unwrap();
    let bad = file_source("bad", "bad.parquet", "ts", "");
    let message = store.source_schema(&bad).await.unwrap_err().to_string();
    assert!(
        message.contains("bad.parquet") && message.contains("not a readable Parquet file"),
        "{message}"
    );
}

/// One generated source row: key (`None`: null), event hour, created hour (`None`: null).
type Row = (Option<i64>, i64, Option<i64>);

/// The definition: per key, the row in `[T0, T1]` with the greatest (event, created, read order),
/// as (key, row number), sorted by key.
fn latest_reference(rows: &[Row]) -> Vec<(i64, i64)> {
    let mut best: BTreeMap<i64, ((i64, i64, usize), i64)> = BTreeMap::new();
    for (i, &(key, hour, created)) in rows.iter().enumerate() {
        let Some(key) = key else { continue };
        if !(0..=24).contains(&hour) {
            continue;
        }
        let rank = (hour, created.map_or(i64::MIN, h), i);
        let entry = best.entry(key).or_insert((rank, i as i64));
        if rank > entry.0 {
            *entry = (rank, i as i64);
        }
    }
    best.into_iter().map(|(k, (_, row))| (k, row)).collect()
}

/// Materializes `rows` stored as `format` (`parquet`: split over two files in row groups of
/// `group_rows`; `csv`: one file) and returns (key, row number) per output row, sorted by key.
fn latest_case(rows: &[Row], format: &str, group_rows: usize) -> Vec<(i64, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let all = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "row",
            Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
        ),
        ("ts", ts_us(rows.iter().map(|r| Some(h(r.1))).collect())),
        ("created", ts_us(rows.iter().map(|r| r.2.map(h)).collect())),
    ]);
    let path = if format == "csv" {
        write_csv(&dir.path().join("s/a.csv"), &all);
        "s/a.csv"
    } else {
        let half = rows.len() / 2;
        write_parquet_groups(
            &dir.path().join("s/a.parquet"),
            &all.slice(0, half),
            group_rows,
        );
        write_parquet_groups(
            &dir.path().join("s/b.parquet"),
            &all.slice(half, rows.len() - half),
            group_rows,
        );
        "s"
    };
    let v = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("row", ValueType::Int64)],
        0,
        file_source("s", path, "ts", "created"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let got = runtime.block_on(async {
        let store = FileOfflineStore::new(dir.path().to_path_buf());
        collect(store.pull_latest(&v, utc(T0), utc(T1)).await.unwrap().rows).await
    });
    let mut out: Vec<(i64, i64)> = i64s(&got, "driver_id")
        .into_iter()
        .zip(i64s(&got, "row"))
        .map(|(k, r)| (k.unwrap(), r.unwrap()))
        .collect();
    out.sort_unstable();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any rows, in either format and any row-group size, give the reference's winners: nulls
    /// keys skipped, rows outside the range ignored, ties broken by created time then read order.
    #[test]
    fn latest_rows_match_the_reference(
        rows in prop::collection::vec(
            (prop::option::weighted(0.9, 0i64..6), -2i64..27, prop::option::weighted(0.7, 0i64..3)),
            1..60,
        ),
        group_rows in 1usize..9,
    ) {
        let expected = latest_reference(&rows);
        for format in ["parquet", "csv"] {
            if format == "csv" && rows.iter().all(|r| r.0.is_none()) {
                continue; // a CSV column of nulls only has no type to read keys as
            }
            prop_assert_eq!(&latest_case(&rows, format, group_rows), &expected, "{}", format);
        }
    }
}
