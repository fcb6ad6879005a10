//! `materialize`, `materialize-incremental`, `get-online-features`, `get-historical-features`.

use serde_json::{Value, json};

use crate::harness::Repo;

/// `get-online-features` arguments: two features of drivers 1001, 1002 and the unknown 7.
const CONV_RATE_AND_CITY_OF_1001_1002_7: &[&str] = &[
    "-f",
    "driver_hourly_stats:conv_rate,driver_hourly_stats:city",
    "-e",
    "driver_id=1001",
    "-e",
    "driver_id=1002",
    "-e",
    "driver_id=7",
];

fn online(repo: &Repo, args: &[&str]) -> Value {
    let mut full = vec!["get-online-features"];
    full.extend_from_slice(args);
    serde_json::from_str(&repo.ok(&full)).expect("JSON output")
}

#[test]
fn materialized_values_are_served_with_statuses() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let out = repo.ok(&["materialize", "2026-10-01T00:00:00", "2026-10-03T00:00:00"]);
    assert!(out.starts_with("Materializing 1 feature views from 2026-10-01 00:00:00+00:00 to 2026-10-03 00:00:00+00:00 into the sqlite online store."), "{out}");
    assert!(
        out.contains("Materialized 3 rows into 1 feature views"),
        "{out}"
    );
    let got = online(&repo, CONV_RATE_AND_CITY_OF_1001_1002_7);
    assert_eq!(
        got["metadata"]["feature_names"],
        json!(["driver_id", "conv_rate", "city"])
    );
    assert_eq!(got["results"][0]["values"], json!([1001, 1002, 7]));
    assert_eq!(got["results"][1]["values"], json!([0.5, 0.25, null]));
    assert_eq!(
        got["results"][1]["statuses"],
        json!(["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND"])
    );
    assert_eq!(
        got["results"][1]["event_timestamps"][0],
        "2026-10-02T12:00:00Z"
    );
    assert_eq!(got["results"][2]["values"], json!(["Oslo", null, null]));
    assert_eq!(got["results"][2]["statuses"][1], "NULL_VALUE");
}

#[test]
fn feature_service_and_full_feature_names() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.ok(&["materialize", "2026-10-01T00:00:00", "2026-10-03T00:00:00"]);
    let got = online(
        &repo,
        &[
            "--feature-service",
            "driver_activity",
            "--full-feature-names",
            "-e",
            "driver_id=1003",
        ],
    );
    assert_eq!(
        got["metadata"]["feature_names"],
        json!([
            "driver_id",
            "driver_hourly_stats__conv_rate",
            "driver_hourly_stats__trips",
            "driver_hourly_stats__city"
        ])
    );
    assert_eq!(got["results"][2]["values"], json!([30]));
}

#[test]
fn an_interval_that_ends_early_materializes_the_rows_as_of_then() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    // Both ends inclusive: a window ending exactly at the first rows' time includes them.
    repo.ok(&["materialize", "2026-09-30T00:00:00", "2026-10-01T12:00:00"]);
    let got = online(
        &repo,
        &["-f", "driver_hourly_stats:trips", "-e", "driver_id=1001"],
    );
    assert_eq!(got["results"][1]["values"], json!([1]));
    // Incremental continues from the recorded end and picks up the later rows.
    let out = repo.ok(&["materialize-incremental", "2026-10-05T00:00:00"]);
    assert!(
        out.contains(
            "driver_hourly_stats from 2026-10-01 12:00:00+00:00 to 2026-10-05 00:00:00+00:00"
        ),
        "{out}"
    );
    let got = online(
        &repo,
        &["-f", "driver_hourly_stats:trips", "-e", "driver_id=1001"],
    );
    assert_eq!(got["results"][1]["values"], json!([10]));
    // An older window never overwrites newer values.
    let out = repo.ok(&["materialize", "2026-09-30T00:00:00", "2026-10-01T12:00:00"]);
    assert!(
        out.contains("3 rows skipped because the online store held newer values"),
        "{out}"
    );
    let got = online(
        &repo,
        &["-f", "driver_hourly_stats:trips", "-e", "driver_id=1001"],
    );
    assert_eq!(got["results"][1]["values"], json!([10]));
    let dump: Value = serde_json::from_str(&repo.ok(&["registry-dump"])).unwrap();
    let intervals = &dump["featureViews"][0]["meta"]["materializationIntervals"];
    assert_eq!(intervals.as_array().unwrap().len(), 3, "{intervals}");
}

#[test]
fn bad_time_ranges_are_rejected_before_anything_is_written() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    let err = repo.fails(&["materialize", "2026-10-03T00:00:00", "2026-10-01T00:00:00"]);
    assert!(err.contains("is after the end"), "{err}");
    let err = repo.fails(&["materialize", "2026-10-01T00:00:00", "2999-01-01T00:00:00"]);
    assert!(err.contains("in the future"), "{err}");
    let err = repo.fails(&["materialize", "yesterday", "2026-10-01T00:00:00"]);
    assert!(err.contains("`yesterday`"), "{err}");
    repo.ok(&["materialize", "2026-10-01T00:00:00", "2026-10-05T00:00:00"]);
    let err = repo.fails(&["materialize-incremental", "2026-10-04T00:00:00"]);
    assert!(err.contains("already materialized up to"), "{err}");
    let err = repo.fails(&[
        "materialize",
        "2026-10-01T00:00:00",
        "2026-10-02T00:00:00",
        "-v",
        "nope",
    ]);
    assert!(
        err.contains("feature view `nope` does not exist") && err.contains("driver_hourly_stats"),
        "{err}"
    );
}

#[test]
fn historical_features_as_of_each_row_in_input_order() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.write(
        "rows.csv",
        "row,driver_id,event_timestamp\n3,1001,2026-10-02T12:00:00Z\n1,1001,2026-10-02T11:59:59Z\n2,1002,2026-10-09T00:00:00Z\n0,1001,2026-10-02T12:00:00Z\n",
    );
    let out = repo.ok(&[
        "get-historical-features",
        "--entities",
        "rows.csv",
        "-f",
        "driver_hourly_stats:trips,driver_hourly_stats:city",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "row,driver_id,event_timestamp,trips,city");
    assert_eq!(lines[1], "3,1001,2026-10-02T12:00:00Z,10,Oslo");
    assert_eq!(lines[2], "1,1001,2026-10-02T11:59:59Z,1,Oslo");
    assert_eq!(
        lines[3], "2,1002,2026-10-09T00:00:00Z,,",
        "outside the 2-day ttl: nulls"
    );
    assert_eq!(
        lines[4], "0,1001,2026-10-02T12:00:00Z,10,Oslo",
        "duplicates are kept"
    );
    let parquet = repo.dir().join("train.parquet");
    repo.ok(&[
        "get-historical-features",
        "--entities",
        "rows.csv",
        "--feature-service",
        "driver_activity",
        "--full-feature-names",
        "-o",
        parquet.to_str().unwrap(),
    ]);
    let file = std::fs::File::open(&parquet).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names[3..],
        [
            "driver_hourly_stats__conv_rate",
            "driver_hourly_stats__trips",
            "driver_hourly_stats__city"
        ]
    );
}

/// One HTTP/1.1 exchange on loopback with `Connection: close`; returns (status line, body).
fn http(port: u16, request_line: &str, body: &str) -> std::io::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        stream,
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    ))
}

/// Kills the server when the test ends, however it ends.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_serves_what_the_cli_reads_with_one_worker_thread() {
    let repo = Repo::new("demo");
    repo.ok(&["apply"]);
    repo.ok(&["materialize", "2026-10-01T00:00:00", "2026-10-03T00:00:00"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("larder"))
        .arg("-c")
        .arg(repo.dir())
        .args([
            "serve",
            "-p",
            &port.to_string(),
            "-w",
            "1",
            "--no-access-log",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start larder serve");
    let _server = ServerProcess(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match http(port, "GET /health", "") {
            Ok((status, _)) if status.contains(" 200 ") => break,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => panic!("the server did not come up on port {port}: {other:?}"),
        }
    }
    let request = r#"{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:city"],
                      "entities": {"driver_id": [1001, 1002, 7]}}"#;
    let (status, body) = http(port, "POST /get-online-features", request).expect("request");
    assert!(status.contains(" 200 "), "{status}: {body}");
    let served: Value = serde_json::from_str(&body).expect("JSON body");
    let read = online(&repo, CONV_RATE_AND_CITY_OF_1001_1002_7);
    assert_eq!(served, read);
    assert_eq!(served["results"][1]["values"], json!([0.5, 0.25, null]));

    let bad = repo.larder(&["serve", "-w", "0"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--workers"), "{}", bad.stderr);
}
