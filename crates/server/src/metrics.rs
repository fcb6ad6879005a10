//! Prometheus metrics, written in the text exposition format (version 0.0.4) by hand.
//!
//! Names follow Feast's feature server, so dashboards and alerts carry over:
//! `feast_feature_server_request_total{endpoint,status}`,
//! `feast_feature_server_request_latency_seconds{endpoint}` (histogram),
//! `feast_online_features_request_total`, `feast_online_features_entity_count` (histogram),
//! `feast_online_features_status_total{status}`, `feast_push_request_total{push_source,mode}`,
//! `feast_materialization_result_total{feature_view,status}`,
//! `feast_materialization_duration_seconds{feature_view}` (histogram) and
//! `feast_feature_freshness_seconds{feature_view,project}` (gauge).
//!
//! Per-request counters are atomics in a table built at start-up (no lock on the request path);
//! push and materialization series, keyed by names only known at run time, sit behind short
//! mutexes that are never held across an `.await`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use larder::{FieldStatus, StatusCounts};

/// The routes requests are counted under (their matched path); anything else is `other`.
pub const ENDPOINTS: &[&str] = &[
    "/get-online-features",
    "/push",
    "/write-to-online-store",
    "/materialize",
    "/materialize-incremental",
    "/jobs/{id}",
    "/health",
    "/metrics",
    "/openapi.json",
    "other",
];

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const ENTITY_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
];
const MATERIALIZE_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];
/// HTTP statuses are counted in a fixed table of this size (codes 0..600).
const STATUS_SLOTS: usize = 600;

/// A histogram with fixed bucket bounds, updated with atomics.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last slot is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Writes `<name>_bucket`, `<name>_sum` and `<name>_count` lines; `labels` is `k="v",` or empty.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let labels = labels.trim_end_matches(',');
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{labels} {sum}");
        let _ = writeln!(out, "{name}_count{labels} {cumulative}");
    }
}

/// One endpoint's counters.
#[derive(Debug)]
struct EndpointMetrics {
    statuses: Box<[AtomicU64]>,
    latency: Histogram,
}

impl EndpointMetrics {
    fn new() -> Self {
        EndpointMetrics {
            statuses: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            latency: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

/// Everything the server counts.
#[derive(Debug)]
pub struct Metrics {
    endpoints: Vec<EndpointMetrics>,
    online_requests: AtomicU64,
    entity_count: Histogram,
    field_statuses: [AtomicU64; 4],
    pushes: Mutex<BTreeMap<(String, &'static str), u64>>,
    materializations: Mutex<BTreeMap<(String, &'static str), u64>>,
    materialize_durations: Mutex<BTreeMap<String, Histogram>>,
    newest_event: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            endpoints: ENDPOINTS.iter().map(|_| EndpointMetrics::new()).collect(),
            online_requests: AtomicU64::new(0),
            entity_count: Histogram::new(ENTITY_BUCKETS),
            field_statuses: Default::default(),
            pushes: Mutex::default(),
            materializations: Mutex::default(),
            materialize_durations: Mutex::default(),
            newest_event: Mutex::default(),
        }
    }
}

/// The index in [`ENDPOINTS`] of the route a request `path` goes to (`other` when none).
pub fn endpoint_of_path(path: &str) -> usize {
    let route = match path.strip_prefix("/jobs/") {
        Some(id) if !id.is_empty() && !id.contains('/') => "/jobs/{id}",
        _ => path,
    };
    ENDPOINTS
        .iter()
        .position(|e| *e == route)
        .unwrap_or(ENDPOINTS.len() - 1)
}

impl Metrics {
    /// Counts a request to `ENDPOINTS[endpoint]` that answered `status` after `elapsed`.
    pub fn record_request(&self, endpoint: usize, status: u16, elapsed: Duration) {
        let Some(e) = self.endpoints.get(endpoint) else {
            return;
        };
        if let Some(slot) = e.statuses.get(usize::from(status)) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        e.latency.observe(elapsed.as_secs_f64());
    }

    /// Counts an answered online request: its entity rows and how many feature values had each
    /// status.
    pub fn record_online(&self, entity_rows: usize, statuses: StatusCounts) {
        self.online_requests.fetch_add(1, Ordering::Relaxed);
        self.entity_count.observe(entity_rows as f64);
        for (slot, n) in self.field_statuses.iter().zip(statuses) {
            if n > 0 {
                slot.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Counts a push to `push_source` in `mode`.
    pub fn record_push(&self, push_source: &str, mode: &'static str) {
        let mut pushes = self.pushes.lock().expect("metrics lock");
        *pushes.entry((push_source.to_string(), mode)).or_default() += 1;
    }

    /// Counts one view's materialization run and its duration.
    pub fn record_materialization(&self, view: &str, succeeded: bool, elapsed: Duration) {
        let status = if succeeded { "success" } else { "failure" };
        *self
            .materializations
            .lock()
            .expect("metrics lock")
            .entry((view.to_string(), status))
            .or_default() += 1;
        let mut durations = self.materialize_durations.lock().expect("metrics lock");
        durations
            .entry(view.to_string())
            .or_insert_with(|| Histogram::new(MATERIALIZE_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Records that rows of `view` up to event time `newest` are online.
    pub fn record_event_time(&self, view: &str, newest: DateTime<Utc>) {
        let mut events = self.newest_event.lock().expect("metrics lock");
        let entry = events.entry(view.to_string()).or_insert(newest);
        *entry = (*entry).max(newest);
    }

    /// The exposition text. `views` are the project's online views with the end of their last
    /// materialized interval from the registry, used for freshness when no rows of the view were
    /// written by this process.
    pub fn render(
        &self,
        project: &str,
        views: &[(String, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
    ) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.render_requests(&mut out);
        self.render_online(&mut out);
        self.render_push(&mut out);
        self.render_materializations(&mut out);
        self.render_freshness(&mut out, project, views, now);
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "feast_feature_server_request_total",
            "counter",
            "Requests by endpoint and HTTP status.",
        );
        for (name, e) in ENDPOINTS.iter().zip(&self.endpoints) {
            for (status, count) in e.statuses.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let name = escape(name);
                    let _ = writeln!(
                        out,
                        "feast_feature_server_request_total{{endpoint=\"{name}\",status=\"{status}\"}} {count}"
                    );
                }
            }
        }
        let latency = "feast_feature_server_request_latency_seconds";
        header(
            out,
            latency,
            "histogram",
            "Request latency by endpoint, in seconds.",
        );
        for (name, e) in ENDPOINTS.iter().zip(&self.endpoints) {
            e.latency
                .render(out, latency, &format!("endpoint=\"{}\",", escape(name)));
        }
    }

    fn render_online(&self, out: &mut String) {
        let requests = "feast_online_features_request_total";
        header(
            out,
            requests,
            "counter",
            "Answered online feature requests.",
        );
        let _ = writeln!(
            out,
            "{requests} {}",
            self.online_requests.load(Ordering::Relaxed)
        );
        let entities = "feast_online_features_entity_count";
        header(
            out,
            entities,
            "histogram",
            "Entity rows per online feature request.",
        );
        self.entity_count.render(out, entities, "");
        let statuses = "feast_online_features_status_total";
        header(
            out,
            statuses,
            "counter",
            "Feature values returned, by field status.",
        );
        for (status, count) in FieldStatus::ALL.iter().zip(&self.field_statuses) {
            let name = status.as_str();
            let _ = writeln!(
                out,
                "{statuses}{{status=\"{name}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
    }

    fn render_push(&self, out: &mut String) {
        let name = "feast_push_request_total";
        header(
            out,
            name,
            "counter",
            "Push requests by push source and mode.",
        );
        for ((source, mode), count) in self.pushes.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "{name}{{push_source=\"{}\",mode=\"{mode}\"}} {count}",
                escape(source)
            );
        }
    }

    fn render_materializations(&self, out: &mut String) {
        let name = "feast_materialization_result_total";
        header(
            out,
            name,
            "counter",
            "Materialization runs by feature view and result.",
        );
        for ((view, status), count) in self.materializations.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "{name}{{feature_view=\"{}\",status=\"{status}\"}} {count}",
                escape(view)
            );
        }
        let name = "feast_materialization_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Materialization duration per feature view, in seconds.",
        );
        for (view, histogram) in self
            .materialize_durations
            .lock()
            .expect("metrics lock")
            .iter()
        {
            histogram.render(out, name, &format!("feature_view=\"{}\",", escape(view)));
        }
    }

    fn render_freshness(
        &self,
        out: &mut String,
        project: &str,
        views: &[(String, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
    ) {
        let name = "feast_feature_freshness_seconds";
        header(
            out,
            name,
            "gauge",
            "Seconds since the newest event time written online (else the end of the last materialized interval).",
        );
        let events = self.newest_event.lock().expect("metrics lock");
        for (view, interval_end) in views {
            let Some(newest) = events.get(view).copied().or(*interval_end) else {
                continue;
            };
            let age = (now - newest).num_milliseconds() as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{name}{{feature_view=\"{}\",project=\"{}\"}} {age}",
                escape(view),
                escape(project)
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.25);
        h.observe(0.5);
        h.observe(7.0);
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\",");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.1\"} 0\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{a=\"b\"} 7.75\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 3\n"), "{out}");
    }

    #[test]
    fn requests_are_counted_by_their_route() {
        let name = |path| ENDPOINTS[endpoint_of_path(path)];
        assert_eq!(name("/get-online-features"), "/get-online-features");
        assert_eq!(name("/jobs/3f2a"), "/jobs/{id}");
        assert_eq!(name("/jobs/"), "other");
        assert_eq!(name("/jobs/a/b"), "other");
        assert_eq!(name("/health/"), "other");
        assert_eq!(name("/other"), "other");
        assert_eq!(name("other"), "other");
    }

    #[test]
    fn renders_requests_and_freshness() {
        let m = Metrics::default();
        m.record_request(endpoint_of_path("/push"), 200, Duration::from_millis(3));
        m.record_request(endpoint_of_path("/nope"), 404, Duration::from_millis(1));
        m.record_push("driver\"push", "online");
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        m.record_event_time("a", DateTime::from_timestamp(990, 0).unwrap());
        let views = [
            ("a".to_string(), None),
            ("b".to_string(), DateTime::from_timestamp(400, 0)),
            ("c".into(), None),
        ];
        let text = m.render("demo", &views, now);
        assert!(
            text.contains(
                "feast_feature_server_request_total{endpoint=\"/push\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "feast_feature_server_request_total{endpoint=\"other\",status=\"404\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "feast_push_request_total{push_source=\"driver\\\"push\",mode=\"online\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "feast_feature_freshness_seconds{feature_view=\"a\",project=\"demo\"} 10\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "feast_feature_freshness_seconds{feature_view=\"b\",project=\"demo\"} 600\n"
            ),
            "{text}"
        );
        assert!(!text.contains("feature_view=\"c\""), "{text}");
    }
}
