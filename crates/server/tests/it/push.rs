//! `POST /push` and `POST /write-to-online-store`, read back through `/get-online-features`.

use axum::http::{Method, StatusCode};
use serde_json::{Value as J, json};

use crate::common::{FRESH, PUSH_SOURCE, Repo, STATS, call, column, online};

fn rows(repo: &Repo) -> J {
    let minute_ago = (repo.now - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let epoch_seconds = (repo.now - chrono::Duration::seconds(30)).timestamp();
    json!({
        "driver_id": [1001, 1099],
        "conv_rate": [0.75, 0.125],
        "avg_daily_trips": [7, 8],
        "city": ["Agra", "Kochi"],
        "event_timestamp": [minute_ago, epoch_seconds],
    })
}

#[tokio::test]
async fn push_online_then_read_back() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let body = json!({"push_source_name": PUSH_SOURCE, "df": rows(&repo), "to": "online"});
    let (status, answer) = call(&app, Method::POST, "/push", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, J::Null, "push answers an empty body");
    let (status, body) = online(
        &app,
        &["driver_fresh:conv_rate", "driver_fresh:city"],
        &[1001, 1099, 1002],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (conv, statuses) = column(&body, "conv_rate");
    assert_eq!(conv, [json!(0.75), json!(0.125), json!(null)]);
    assert_eq!(statuses, ["PRESENT", "PRESENT", "NOT_FOUND"]);
    let (city, _) = column(&body, "city");
    assert_eq!(city, [json!("Agra"), json!("Kochi"), json!(null)]);
    let (_, body) = online(&app, &["driver_hourly_stats:city"], &[1001]).await;
    assert_eq!(
        column(&body, "city").0,
        [json!("Delhi")],
        "views of other sources are untouched"
    );
}

#[tokio::test]
async fn push_offline_lands_in_the_batch_source() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let body = json!({"push_source_name": PUSH_SOURCE, "df": rows(&repo), "to": "offline"});
    let (status, answer) = call(&app, Method::POST, "/push", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, body) = online(&app, &["driver_fresh:conv_rate"], &[1001]).await;
    assert_eq!(
        column(&body, "conv_rate").1,
        ["NOT_FOUND"],
        "offline pushes do not go online"
    );
    let window = json!({
        "start_ts": (repo.now - chrono::Duration::days(1)).to_rfc3339(),
        "end_ts": chrono::Utc::now().to_rfc3339(),
        "feature_views": [STATS],
    });
    let (status, answer) = call(&app, Method::POST, "/materialize", Some(window)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, body) = online(&app, &["driver_hourly_stats:city"], &[1001, 1099]).await;
    assert_eq!(column(&body, "city").0, [json!("Agra"), json!("Kochi")]);
}

#[tokio::test]
async fn write_to_online_store_answers_null() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let body = json!({"feature_view_name": STATS, "df": rows(&repo)});
    let (status, answer) = call(&app, Method::POST, "/write-to-online-store", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, J::Null);
    let (_, body) = online(
        &app,
        &["driver_hourly_stats:avg_daily_trips"],
        &[1001, 1099],
    )
    .await;
    assert_eq!(column(&body, "avg_daily_trips").0, [json!(7), json!(8)]);
    let (_, body) = online(&app, &["driver_fresh:avg_daily_trips"], &[1001]).await;
    assert_eq!(
        column(&body, "avg_daily_trips").1,
        ["NOT_FOUND"],
        "only the named view is written"
    );
}

#[tokio::test]
async fn bad_rows_are_rejected_whole() {
    let repo = Repo::new().await;
    let app = repo.app().await;
    let mut df = rows(&repo);
    df["avg_daily_trips"] = json!([7, "eight"]);
    let body = json!({"push_source_name": PUSH_SOURCE, "df": df, "to": "online_and_offline"});
    let (status, answer) = call(&app, Method::POST, "/push", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let detail = answer["detail"].as_str().unwrap();
    assert!(detail.contains("`avg_daily_trips` row 1"), "{detail}");
    let (_, body) = online(&app, &["driver_fresh:conv_rate"], &[1001]).await;
    assert_eq!(
        column(&body, "conv_rate").1,
        ["NOT_FOUND"],
        "nothing was written"
    );
    let mut df = rows(&repo);
    df.as_object_mut().unwrap().remove("city");
    let body = json!({"push_source_name": PUSH_SOURCE, "df": df});
    let (status, answer) = call(&app, Method::POST, "/push", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("`city`") && detail.contains(FRESH),
        "{detail}"
    );
}
