//! A real server on `127.0.0.1:0`: requests over TCP, and a graceful shutdown that lets a
//! request in flight finish.

use std::net::SocketAddr;
use std::time::Duration;

use larder_server::serve_with;
use serde_json::{Value as J, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Repo, column, test_options};

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
