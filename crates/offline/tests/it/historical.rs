//! `get_historical_features`: the point-in-time join, checked against a naive reference.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Int64Type};
use larder_core::ValueType;
use larder_core::model::FeatureView;
use larder_offline::{
    EntityRows, Error, FileOfflineStore, HistoricalRequest, OfflineStore, ViewRequest,
};
use proptest::prelude::*;

use crate::support::{
    batch, collect, column, file_source, i64s, ts_us, view, write_csv, write_parquet,
    write_parquet_groups,
};

const HOUR: i64 = 3_600_000_000;
const BASE: i64 = 1_790_899_200_000_000; // 2026-10-02T00:00:00Z

fn request(
    entity_rows: EntityRows,
    views: Vec<(FeatureView, &[&str])>,
    full_feature_names: bool,
) -> HistoricalRequest {
    let views = views
        .into_iter()
        .map(|(view, features)| ViewRequest {
            name_to_use: view.name.clone(),
            view,
            features: features.iter().map(|f| f.to_string()).collect(),
            join_key_map: BTreeMap::new(),
        })
        .collect();
    HistoricalRequest {
        entity_rows,
        views,
        full_feature_names,
    }
}

async fn run(repo: &Path, request: &HistoricalRequest) -> Result<RecordBatch, Error> {
    run_buffered(repo, request, larder_offline::DEFAULT_JOIN_BUFFER_ROWS).await
}

/// Runs with the join keeping at most `buffer_rows` source rows beyond twice the entity rows.
async fn run_buffered(
    repo: &Path,
    request: &HistoricalRequest,
    buffer_rows: usize,
) -> Result<RecordBatch, Error> {
    let store = FileOfflineStore::new(repo.to_path_buf()).with_join_buffer_rows(buffer_rows);
    Ok(collect(store.get_historical_features(request).await?).await)
}

/// One feature row of the generated history.
#[derive(Debug, Clone)]
struct FeatureRow {
    key: i64,
    ts: i64,
    created: Option<i64>,
}

/// The definition, row by row: the same-key row with `ts <= t` (and `ts >= t - ttl` when ttl > 0)
/// with the greatest (ts, created, file position); its `row_id`.
fn reference(features: &[FeatureRow], entities: &[(i64, i64)], ttl: i64) -> Vec<Option<i64>> {
    entities
        .iter()
        .map(|&(key, t)| {
            (0..features.len())
                .filter(|&i| {
                    features[i].key == key
                        && features[i].ts <= t
                        && (ttl == 0 || features[i].ts >= t - ttl)
                })
                .max_by_key(|&i| (features[i].ts, features[i].created.unwrap_or(i64::MIN), i))
                .map(|i| i as i64)
        })
        .collect()
}

fn history() -> impl Strategy<Value = Vec<FeatureRow>> {
    let row =
        (0i64..4, 0i64..12, prop::option::weighted(0.8, 0i64..3)).prop_map(|(key, h, created)| {
            FeatureRow {
                key,
                ts: BASE + h * HOUR,
                created: created.map(|c| BASE + c * HOUR),
            }
        });
    prop::collection::vec(row, 0..30)
}

/// Entity rows: random times, times exactly on a feature row, and exactly a ttl after one.
fn entity_rows(
    features: &[FeatureRow],
    picks: &[(i64, i64, u8, usize)],
    ttl: i64,
) -> Vec<(i64, i64)> {
    picks
        .iter()
        .map(
            |&(key, h, kind, pick)| match (kind, features.get(pick % features.len().max(1))) {
                (1, Some(f)) => (f.key, f.ts),
                (2, Some(f)) => (f.key, f.ts + ttl),
                (3, Some(f)) => (f.key, f.ts + ttl + 1),
                _ => (key, BASE + h * HOUR),
            },
        )
        .collect()
}

/// How the generated history is stored: the two formats take different read paths (Parquet in
/// two passes over row groups of `group_rows`, CSV through DataFusion with kept rows compacted
/// after every batch).
#[derive(Debug, Clone, Copy)]
enum Stored {
    Parquet { group_rows: usize },
    Csv,
}

fn join_case(
    features: &[FeatureRow],
    entities: &[(i64, i64)],
    ttl: i64,
    stored: Stored,
) -> (Vec<Option<i64>>, Vec<Option<i64>>) {
    let dir = tempfile::tempdir().unwrap();
    let rows = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from_iter_values(features.iter().map(|f| f.key))) as ArrayRef,
        ),
        (
            "row_id",
            Arc::new(Int64Array::from_iter_values(0..features.len() as i64)),
        ),
        ("ts", ts_us(features.iter().map(|f| Some(f.ts)).collect())),
        (
            "created",
            ts_us(features.iter().map(|f| f.created).collect()),
        ),
    ]);
    let (file, buffer_rows) = match stored {
        Stored::Parquet { group_rows } => {
            write_parquet_groups(&dir.path().join("f.parquet"), &rows, group_rows);
            ("f.parquet", larder_offline::DEFAULT_JOIN_BUFFER_ROWS)
        }
        Stored::Csv => {
            write_csv(&dir.path().join("f.csv"), &rows);
            ("f.csv", 1)
        }
    };
    let source = file_source("f", file, "ts", "created");
    let v = view(
        "v",
        &[("driver_id", ValueType::Int64)],
        &[("row_id", ValueType::Int64)],
        (ttl / 1_000_000) as u64,
        source,
    );
    let entity = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from_iter_values(entities.iter().map(|e| e.0))) as ArrayRef,
        ),
        (
            "event_timestamp",
            ts_us(entities.iter().map(|e| Some(e.1)).collect()),
        ),
        (
            "n",
            Arc::new(Int64Array::from_iter_values(0..entities.len() as i64)),
        ),
    ]);
    let req = request(
        EntityRows::Batches(vec![entity]),
        vec![(v, &["row_id"])],
        false,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = runtime
        .block_on(run_buffered(dir.path(), &req, buffer_rows))
        .unwrap();
    assert_eq!(
        i64s(&got, "n"),
        (0..entities.len() as i64).map(Some).collect::<Vec<_>>(),
        "input order"
    );
    (i64s(&got, "row_id"), reference(features, entities, ttl))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn point_in_time_join_matches_the_reference(
        features in history(),
        picks in prop::collection::vec((0i64..5, -2i64..16, 0u8..4, 0usize..64), 0..30),
        ttl_hours in prop_oneof![Just(0i64), 1i64..6],
    ) {
        let ttl = ttl_hours * HOUR;
        let entities = entity_rows(&features, &picks, ttl);
        for stored in [Stored::Parquet { group_rows: 4 }, Stored::Parquet { group_rows: 1 << 20 }, Stored::Csv] {
            if matches!(stored, Stored::Csv) && features.is_empty() {
                continue; // a CSV file of a header only has no column types
            }
            let (got, expected) = join_case(&features, &entities, ttl, stored);
            prop_assert_eq!(got, expected, "{:?}", stored);
        }
    }
}

#[test]
fn boundaries_duplicates_and_ties() {
    let features = [
        FeatureRow {
            key: 1,
            ts: BASE,
            created: Some(BASE),
        },
        FeatureRow {
            key: 1,
            ts: BASE,
            created: Some(BASE + 1),
        },
        FeatureRow {
            key: 1,
            ts: BASE + 5 * HOUR,
            created: None,
        },
        FeatureRow {
            key: 2,
            ts: BASE + HOUR,
            created: None,
        },
        FeatureRow {
            key: 2,
            ts: BASE + HOUR,
            created: None,
        },
    ];
    let ttl = 2 * HOUR;
    let entities = [
        (1, BASE),            // exactly on the tied rows: the later created wins
        (1, BASE + ttl),      // exactly ts + ttl: still in
        (1, BASE + ttl + 1),  // just past the ttl: nothing
        (1, BASE),            // a duplicate entity row
        (2, BASE + HOUR),     // full tie: the row read last
        (3, BASE + HOUR),     // unknown key
        (1, BASE - 1),        // before any data
        (1, BASE + 6 * HOUR), // within ttl of the newest row
    ];
    for stored in [Stored::Parquet { group_rows: 2 }, Stored::Csv] {
        let (got, expected) = join_case(&features, &entities, ttl, stored);
        assert_eq!(
            got,
            [
                Some(1),
                Some(1),
                None,
                Some(1),
                Some(4),
                None,
                None,
                Some(2)
            ],
            "{stored:?}"
        );
        assert_eq!(got, expected);
    }
}

/// Two views with different entities (Parquet and CSV sources), field mapping and join_key_map.
fn two_views(dir: &Path) -> (FeatureView, FeatureView) {
    let drivers = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(vec![1, 1, 2])) as ArrayRef,
        ),
        ("trips", Arc::new(Int64Array::from(vec![10, 11, 20]))),
        (
            "ts",
            ts_us(vec![Some(BASE), Some(BASE + 2 * HOUR), Some(BASE)]),
        ),
    ]);
    write_parquet(&dir.join("drivers.parquet"), &drivers);
    let csv = "cust,spend,ts\nalice,1.5,2026-10-02T00:00:00Z\nbob,2.5,2026-10-02 01:00:00\nalice,3.5,2026-10-02T03:00:00+00:00\n";
    std::fs::write(dir.join("customers.csv"), csv).unwrap();
    let d = view(
        "drivers",
        &[("driver_id", ValueType::Int64)],
        &[("trips", ValueType::Int64)],
        0,
        file_source("d", "drivers.parquet", "ts", ""),
    );
    let mut customers = file_source("c", "customers.csv", "ts", "");
    customers
        .field_mapping
        .insert("cust".into(), "customer_id".into());
    let c = view(
        "customers",
        &[("customer_id", ValueType::String)],
        &[("spend", ValueType::Double)],
        3600,
        customers,
    );
    (d, c)
}

#[tokio::test]
async fn several_views_with_different_entities() {
    let dir = tempfile::tempdir().unwrap();
    let (d, c) = two_views(dir.path());
    let entity = batch(vec![
        (
            "label",
            Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef,
        ),
        ("driver_id", Arc::new(Int64Array::from(vec![1, 2, 1]))),
        (
            "who",
            Arc::new(StringArray::from(vec!["alice", "bob", "alice"])),
        ),
        (
            "event_timestamp",
            ts_us(vec![
                Some(BASE + HOUR),
                Some(BASE + 3 * HOUR),
                Some(BASE + 3 * HOUR),
            ]),
        ),
    ]);
    let mut req = request(
        EntityRows::Batches(vec![entity]),
        vec![(d, &["trips"]), (c, &["spend"])],
        true,
    );
    req.views[1]
        .join_key_map
        .insert("customer_id".into(), "who".into());
    req.views[1].name_to_use = "cust_alias".into();
    let got = run(dir.path(), &req).await.unwrap();
    let names: Vec<_> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "label",
            "driver_id",
            "who",
            "event_timestamp",
            "drivers__trips",
            "cust_alias__spend"
        ]
    );
    assert_eq!(i64s(&got, "drivers__trips"), [Some(10), Some(20), Some(11)]);
    let spend: Vec<_> = column(&got, "cust_alias__spend")
        .as_primitive::<arrow::datatypes::Float64Type>()
        .iter()
        .collect();
    // bob's row is 2 h old with a 1 h ttl: no match.
    assert_eq!(spend, [Some(1.5), None, Some(3.5)]);
}

#[tokio::test]
async fn entity_rows_from_csv_with_another_timestamp_name() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _) = two_views(dir.path());
    let csv = "driver_id,note,at\n2,first,2026-10-02T05:00:00\n1,second,2026-10-02T01:59:59Z\n9,third,2026-10-02T05:00:00\n";
    std::fs::write(dir.path().join("entities.csv"), csv).unwrap();
    let req = request(
        EntityRows::File(dir.path().join("entities.csv")),
        vec![(d, &["trips"])],
        false,
    );
    let got = run(dir.path(), &req).await.unwrap();
    let names: Vec<_> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["driver_id", "note", "at", "trips"]);
    assert_eq!(
        got.schema().field(2).data_type(),
        &ValueType::UnixTimestamp.to_arrow().unwrap()
    );
    assert_eq!(i64s(&got, "trips"), [Some(20), Some(10), None]);
    assert_eq!(
        column(&got, "trips").data_type(),
        &DataType::Int64,
        "integers stay integers with nulls"
    );
}

#[tokio::test]
async fn entity_less_views_join_on_time_only() {
    let dir = tempfile::tempdir().unwrap();
    let rows = batch(vec![
        ("total", Arc::new(Int64Array::from(vec![5, 9]))),
        ("ts", ts_us(vec![Some(BASE), Some(BASE + 2 * HOUR)])),
    ]);
    write_parquet(&dir.path().join("g.parquet"), &rows);
    let g = view(
        "global",
        &[],
        &[("total", ValueType::Int64)],
        0,
        file_source("g", "g.parquet", "ts", ""),
    );
    let entity = batch(vec![(
        "event_timestamp",
        ts_us(vec![
            Some(BASE + HOUR),
            Some(BASE - 1),
            None,
            Some(BASE + 3 * HOUR),
        ]),
    )]);
    let got = run(
        dir.path(),
        &request(
            EntityRows::Batches(vec![entity]),
            vec![(g, &["total"])],
            false,
        ),
    )
    .await
    .unwrap();
    assert_eq!(i64s(&got, "total"), [Some(5), None, None, Some(9)]);
}

#[tokio::test]
async fn request_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (d, c) = two_views(dir.path());
    let entity = |key: ArrayRef| {
        batch(vec![
            ("driver_id", key),
            ("customer_id", Arc::new(StringArray::from(vec!["a"]))),
            ("event_timestamp", ts_us(vec![Some(BASE)])),
        ])
    };
    let ints = || entity(Arc::new(Int64Array::from(vec![1])));
    let mut twin = c.clone();
    twin.name = "twin".into();
    twin.features
        .push(larder_core::model::Field::new("trips", ValueType::Int64));
    let collide = request(
        EntityRows::Batches(vec![ints()]),
        vec![(d.clone(), &["trips"]), (twin, &["trips"])],
        false,
    );
    let message = run(dir.path(), &collide).await.unwrap_err().to_string();
    assert!(
        message.contains("collision") && message.contains("`trips` (drivers:trips, twin:trips)"),
        "{message}"
    );

    let unknown = request(
        EntityRows::Batches(vec![ints()]),
        vec![(d.clone(), &["speed"])],
        false,
    );
    let message = run(dir.path(), &unknown).await.unwrap_err().to_string();
    assert!(
        message.contains("feature view `drivers` has no feature `speed`; its features are: trips"),
        "{message}"
    );

    let strings = entity(Arc::new(StringArray::from(vec!["1"])));
    let mismatch = request(
        EntityRows::Batches(vec![strings]),
        vec![(d.clone(), &["trips"])],
        false,
    );
    let message = run(dir.path(), &mismatch).await.unwrap_err().to_string();
    assert!(
        message.contains("join key `driver_id` is Utf8 in the entity rows")
            && message.contains("but Int64 in source `d`"),
        "{message}"
    );

    let no_key = batch(vec![("event_timestamp", ts_us(vec![Some(BASE)]))]);
    write_parquet(&dir.path().join("entities.parquet"), &no_key);
    let missing = request(
        EntityRows::File(dir.path().join("entities.parquet")),
        vec![(d, &["trips"])],
        false,
    );
    let err = run(dir.path(), &missing).await.unwrap_err();
    let Error::Column { file, message } = &err else {
        panic!("{err}")
    };
    assert!(file.ends_with("entities.parquet"));
    assert!(
        message.contains("feature view `drivers` needs column `driver_id`"),
        "{message}"
    );
}

#[tokio::test]
async fn large_join_keeps_every_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000i64;
    let keys: Vec<i64> = (0..n).map(|i| i % 1000).collect();
    let rows = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(keys.clone())) as ArrayRef,
        ),
        ("value", Arc::new(Int64Array::from_iter_values(0..n))),
        (
            "ts",
            ts_us((0..n).map(|i| Some(BASE + (i / 1000) * HOUR)).collect()),
        ),
    ]);
    write_parquet(&dir.path().join("big.parquet"), &rows);
    let v = view(
        "big",
        &[("driver_id", ValueType::Int64)],
        &[("value", ValueType::Int64)],
        0,
        file_source("b", "big.parquet", "ts", ""),
    );
    let m = 150_000i64;
    let entity = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from_iter_values((0..m).map(|i| (i * 7) % 1001))) as ArrayRef,
        ),
        (
            "event_timestamp",
            ts_us((0..m).map(|i| Some(BASE + (i % 250) * HOUR + 1)).collect()),
        ),
    ]);
    let req = request(
        EntityRows::Batches(vec![entity]),
        vec![(v, &["value"])],
        false,
    );
    let got = run(dir.path(), &req).await.unwrap();
    assert_eq!(
        run_buffered(dir.path(), &req, 1).await.unwrap(),
        got,
        "the same when kept rows are compacted after every batch"
    );
    assert_eq!(got.num_rows(), m as usize);
    let values = column(&got, "value").as_primitive::<Int64Type>();
    for i in 0..m {
        let (key, hour) = ((i * 7) % 1001, (i % 250).min(199));
        let expected = (key < 1000).then_some(hour * 1000 + key);
        assert_eq!(
            values
                .is_valid(i as usize)
                .then(|| values.value(i as usize)),
            expected,
            "entity row {i}"
        );
    }
}

/// A source big enough to be read in parallel partitions (several row groups, over DataFusion's
/// 1 MiB threshold): a full tie on (event, created) between the first and the last row of a key
/// still goes to the row read last, and every other key gets its own latest row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tie_across_row_groups_goes_to_the_row_read_last() {
    full_tie_goes_to_the_row_read_last(50_000).await;
}

/// The same in a file of one row group, which is split by rows (in the middle of the group)
/// between the partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tie_across_a_split_row_group_goes_to_the_row_read_last() {
    full_tie_goes_to_the_row_read_last(400_000).await;
}

async fn full_tie_goes_to_the_row_read_last(row_group_rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let n = 400_000i64;
    let created = BASE - HOUR;
    let rows = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 1000))) as ArrayRef,
        ),
        (
            "value",
            Arc::new(Int64Array::from_iter_values(
                (0..n).map(|i| (i * 2_654_435_761) % (1 << 40)),
            )),
        ),
        (
            "ts",
            ts_us(
                (0..n)
                    .map(|i| Some(if i % 1000 == 7 { BASE } else { BASE - HOUR + i }))
                    .collect(),
            ),
        ),
        ("created", ts_us(vec![Some(created); n as usize])),
    ]);
    write_parquet_groups(&dir.path().join("tie.parquet"), &rows, row_group_rows);
    let v = view(
        "tie",
        &[("driver_id", ValueType::Int64)],
        &[("value", ValueType::Int64)],
        0,
        file_source("t", "tie.parquet", "ts", "created"),
    );
    let entity = batch(vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(vec![7, 8])) as ArrayRef,
        ),
        ("event_timestamp", ts_us(vec![Some(BASE), Some(BASE)])),
    ]);
    let req = request(
        EntityRows::Batches(vec![entity]),
        vec![(v, &["value"])],
        false,
    );
    let got = run(dir.path(), &req).await.unwrap();
    let last_of = |key: i64| n - 1000 + key;
    assert_eq!(
        i64s(&got, "value"),
        [7, 8].map(|k| Some((last_of(k) * 2_654_435_761) % (1 << 40))),
        "key 7 ties at BASE on every row; key 8's rows rise in time"
    );
}
