//! `POST /get-online-features`: values, statuses, timestamps, services, full names.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Repo, STATS, call, column, online};

#[tokio::test]
async fn reads_latest_values_in_feasts_shape() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let features = [
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:avg_daily_trips",
        "driver_hourly_stats:city",
    ];
    let (status, body) = online(&app, &features, &[1001, 1003, 999]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["metadata"]["feature_names"],
        json!(["driver_id", "conv_rate", "avg_daily_trips", "city"])
    );
    let (ids, id_statuses) = column(&body, "driver_id");
    assert_eq!(ids, [json!(1001), json!(1003), json!(999)]);
    assert_eq!(id_statuses, ["PRESENT"; 3]);
    assert_eq!(
        body["results"][0]["event_timestamps"][0],
        "1970-01-01T00:00:00Z"
    );
    let (conv, statuses) = column(&body, "conv_rate");
    assert_eq!(conv, [json!(0.5), json!(null), json!(null)]);
    assert_eq!(statuses, ["PRESENT", "NULL_VALUE", "NOT_FOUND"]);
    let (trips, _) = column(&body, "avg_daily_trips");
    assert_eq!(trips, [json!(10), json!(30), json!(null)]);
    let (city, _) = column(&body, "city");
    assert_eq!(city, [json!("Delhi"), json!("Goa"), json!(null)]);
    let event = body["results"][1]["event_timestamps"][0].as_str().unwrap();
    let expected = repo.now - chrono::Duration::hours(2);
    let parsed = chrono::DateTime::parse_from_rfc3339(event).unwrap();
    assert!(
        (parsed.timestamp() - expected.timestamp()).abs() <= 1,
        "{event} vs {expected}"
    );
    assert_eq!(
        body["results"][1]["event_timestamps"][2],
        "1970-01-01T00:00:00Z"
    );
}

#[tokio::test]
async fn feature_services_and_full_feature_names() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let body = json!({"feature_service": "driver_activity", "entities": {"driver_id": [1002]}, "full_feature_names": true});
    let (status, body) = call(&app, Method::POST, "/get-online-features", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = body["metadata"]["feature_names"].as_array().unwrap();
    assert_eq!(names[0], "driver_id");
    assert!(
        names.contains(&json!(format!("{STATS}__conv_rate"))),
        "{body}"
    );
    let (city, _) = column(&body, &format!("{STATS}__city"));
    assert_eq!(city, [json!("Pune")]);
}

#[tokio::test]
async fn cached_plans_answer_repeated_requests_identically() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let first = online(&app, &["driver_hourly_stats:conv_rate"], &[1002]).await;
    let second = online(&app, &["driver_hourly_stats:conv_rate"], &[1002]).await;
    assert_eq!(first, second);
    let (conv, _) = column(&first.1, "conv_rate");
    assert_eq!(conv, [json!(0.25)]);
}
