//! A real server on `127.0.0.1:0`: requests over TCP, a graceful shutdown that lets a request in
//! flight finish, and several server threads sharing one store.

use std::net::SocketAddr;
use std::time::Duration;

use larder_server::{ServeOptions, serve_with};
use serde_json::{Value as J, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{BIG, Online, PUSH_SOURCE, Repo, column, test_options, unique_project};

/// Sends raw bytes and reads the whole answer (the request says `Connection: close`).
async fn exchange(stream: &mut TcpStream) -> (u16, J) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 30 s")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = if body.is_empty() {
        J::Null
    } else {
        serde_json::from_str(body).expect("JSON body")
    };
    (status, body)
}

fn request_head(method: &str, path: &str, length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, J) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{}{body}", request_head(method, path, body.len()));
    stream.write_all(request.as_bytes()).await.expect("write");
    exchange(&mut stream).await
}

fn online_body() -> String {
    json!({"features": ["driver_hourly_stats:city"], "entities": {"driver_id": [1001, 1002]}})
        .to_string()
}

#[tokio::test]
async fn serves_over_tcp_and_drains_on_shutdown() {
    let repo = Repo::new().await;
    let state = repo.state(&test_options()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listener, state, async {
        let _ = stopped.await;
    }));

    assert_eq!(http(addr, "GET", "/health", "").await, (200, J::Null));
    let (status, body) = http(addr, "POST", "/get-online-features", &online_body()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column(&body, "city").0, [json!("Delhi"), json!("Pune")]);

    let body = online_body();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(addr).await.expect("connect");
    let head = request_head("POST", "/get-online-features", body.len());
    in_flight
        .write_all(format!("{head}{first}").as_bytes())
        .await
        .expect("write head");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("server running");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    in_flight
        .write_all(rest.as_bytes())
        .await
        .expect("write rest");
    let (status, answer) = exchange(&mut in_flight).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(column(&answer, "city").0, [json!("Delhi"), json!("Pune")]);

    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    finished
        .expect("server stops after draining")
        .expect("server task")
        .expect("server result");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

/// One keep-alive HTTP/1.1 connection: requests go one after another on the same socket, so
/// they all reach the server thread the connection was handed to.
struct KeepAlive {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).await.expect("connect");
        KeepAlive {
            stream,
            buffered: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: &J) -> (u16, J) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("write");
        tokio::time::timeout(Duration::from_secs(30), self.answer())
            .await
            .expect("answer within 30 s")
    }

    /// Reads one response: the head, then `Content-Length` bytes of body.
    async fn answer(&mut self) -> (u16, J) {
        let head_end = loop {
            if let Some(i) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().expect("content length"))
            })
            .unwrap_or_else(|| panic!("no Content-Length in {head}"));
        while self.buffered.len() < head_end + length {
            self.fill().await;
        }
        let body: Vec<u8> = self
            .buffered
            .drain(..head_end + length)
            .skip(head_end)
            .collect();
        let body = if body.is_empty() {
            J::Null
        } else {
            serde_json::from_slice(&body).expect("JSON body")
        };
        (status, body)
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed a keep-alive connection");
        self.buffered.extend_from_slice(&chunk[..n]);
    }
}

fn online_request(features: &[&str], ids: &[i64]) -> J {
    json!({"features": features, "entities": {"driver_id": ids}})
}

/// Two server threads, each with its own Redis connections: keep-alive connections spread over
/// both see the same data, a push through one thread is read through the other, and an async
/// materialization (run off the server threads) is polled to completion over HTTP.
#[tokio::test]
async fn server_threads_share_one_store_with_redis() {
    let url = crate::redis::server();
    crate::redis::require_redis(&url).await;
    let project = unique_project("larder_it_threads");
    let repo = Repo::with(Online::Redis(url), &project, 20).await;
    let options = ServeOptions {
        threads: 2,
        ..test_options()
    };
    let state = repo.state(&options).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(listener, state, async {
        let _ = stopped.await;
    }));

    // Four connections at once, twenty requests each: the acceptor gives two to each thread.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(KeepAlive::connect(addr).await);
    }
    let rounds = clients.into_iter().map(|mut client| {
        tokio::spawn(async move {
            for _ in 0..20 {
                let request = online_request(&["driver_hourly_stats:city"], &[1002, 1001, 999]);
                let (status, body) = client.send("POST", "/get-online-features", &request).await;
                assert_eq!(status, 200, "{body}");
                assert_eq!(
                    column(&body, "city"),
                    (
                        vec![json!("Pune"), json!("Delhi"), json!(null)],
                        vec!["PRESENT".into(), "PRESENT".into(), "NOT_FOUND".into()]
                    )
                );
            }
            client
        })
    });
    let mut clients = Vec::new();
    for round in rounds {
        clients.push(round.await.expect("client task"));
    }

    let push = json!({"push_source_name": PUSH_SOURCE, "df": {
        "driver_id": [1001], "conv_rate": [0.75], "avg_daily_trips": [5], "city": ["Agra"],
        "event_timestamp": [chrono::Utc::now().to_rfc3339()],
    }});
    assert_eq!(clients[0].send("POST", "/push", &push).await.0, 200);
    for client in &mut clients {
        let request = online_request(&["driver_fresh:city"], &[1001]);
        let (_, body) = client.send("POST", "/get-online-features", &request).await;
        assert_eq!(column(&body, "city").0, [json!("Agra")], "{body}");
    }

    let window = json!({"end_ts": chrono::Utc::now().to_rfc3339(), "feature_views": [BIG]});
    let (status, accepted) = clients[1]
        .send("POST", "/materialize-incremental?async=true", &window)
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["job_id"].as_str().expect("job id").to_string();
    let mut job = J::Null;
    for _ in 0..600 {
        job = clients[2]
            .send("GET", &format!("/jobs/{id}"), &J::Null)
            .await
            .1;
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["feature_views"][0]["rows_written"], 20, "{job}");
    for client in &mut clients {
        let request = online_request(&["big_stats:score"], &[2005, 2020]);
        let (_, body) = client.send("POST", "/get-online-features", &request).await;
        assert_eq!(
            column(&body, "score").0,
            [json!(200.5), json!(202.0)],
            "{body}"
        );
    }

    // Idle keep-alive connections do not hold the shutdown up.
    stop.send(()).expect("server running");
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    finished
        .expect("server stops with idle connections open")
        .expect("server task")
        .expect("server result");
    drop(clients);

    repo.delete_online_data(&project).await;
}
