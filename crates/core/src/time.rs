//! Time in Larder: UTC everywhere, microsecond precision; parsing of timestamps and `ttl` durations.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::error::{Error, Result};

/// Parses an ISO-8601 timestamp. A timestamp without a zone is UTC; a bare date is midnight UTC.
///
/// Accepts `2026-11-24T12:00:00`, `2026-11-24 12:00:00.5`, `2026-11-24T12:00:00Z`,
/// `2026-11-24T12:00:00+02:00` and `2026-11-24`.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    let naive = t.strip_suffix('Z').unwrap_or(t);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(Utc.from_utc_datetime(&dt));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    Err(Error::Parse(format!(
        "`{text}` is not a timestamp: use ISO 8601, e.g. 2026-11-24T12:00:00 (UTC when no zone is given)"
    )))
}

/// Parses a duration: `2d`, `36h`, `90m`, `45s`, `1h30m`, `1w`, or a plain number of seconds. `0` is "forever".
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        Error::Parse(format!(
            "`{text}` is not a duration: use a number of seconds or units like 2d, 36h, 90m, 45s, 1h30m"
        ))
    };
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(bad())
        };
    }
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let scale = match unit.to_ascii_lowercase().as_str() {
            "w" | "week" | "weeks" => 7 * 86_400,
            "d" | "day" | "days" => 86_400,
            "h" | "hour" | "hours" => 3_600,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way definitions write it: `2d`, `36h`, `90m`, `1d12h`, `0`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 && d.subsec_nanos() == 0 {
        return "0".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if secs > 0 || d.subsec_nanos() > 0 || out.is_empty() {
        if d.subsec_nanos() > 0 {
            out.push_str(&format!("{}s", secs as f64 + d.subsec_nanos() as f64 / 1e9));
        } else {
            out.push_str(&format!("{secs}s"));
        }
    }
    out
}

/// A protobuf `Timestamp` for a UTC time.
pub fn to_proto_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The UTC time of a protobuf `Timestamp` (out-of-range values clamp to the epoch).
pub fn from_proto_timestamp(t: &prost_types::Timestamp) -> DateTime<Utc> {
    Utc.timestamp_opt(t.seconds, t.nanos.max(0) as u32)
        .single()
        .unwrap_or_default()
}

/// A protobuf `Duration`.
pub fn to_proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// The duration of a protobuf `Duration` (negative values read as zero).
pub fn from_proto_duration(d: &prost_types::Duration) -> Duration {
    if d.seconds < 0 || (d.seconds == 0 && d.nanos <= 0) {
        return Duration::ZERO;
    }
    Duration::new(d.seconds as u64, d.nanos.max(0) as u32)
}

/// Microseconds since the epoch.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The UTC time of microseconds since the epoch.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Formats a time as Feast prints it in the CLI: `2026-11-24 12:00:00+00:00` (microseconds dropped).
pub fn format_feast_cli(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
}

/// Formats a time as RFC 3339 with `Z`, keeping as many fractional digits as needed (0, 3, 6 or 9).
pub fn format_rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timestamps_naive_as_utc() {
        let t = parse_timestamp("2026-11-24T12:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T12:00:00+00:00");
        let t = parse_timestamp("2026-11-24T12:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T10:00:00+00:00");
        let t = parse_timestamp("2026-11-24 12:00:00.250").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 250);
        assert_eq!(
            parse_timestamp("2026-11-24").unwrap().to_rfc3339(),
            "2026-11-24T00:00:00+00:00"
        );
        assert_eq!(
            parse_timestamp("2026-11-24T12:00:00Z").unwrap().timestamp(),
            1795521600
        );
        let err = parse_timestamp("yesterday").unwrap_err().to_string();
        assert!(
            err.contains("`yesterday`") && err.contains("ISO 8601"),
            "{err}"
        );
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172_800);
        assert_eq!(parse_duration("36h").unwrap().as_secs(), 129_600);
        assert_eq!(parse_duration("90m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_duration("86400").unwrap().as_secs(), 86_400);
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1w").unwrap().as_secs(), 604_800);
        for bad in ["", "2x", "d", "-5", "5 parsecs", "10m5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_durations_compactly() {
        assert_eq!(format_duration(Duration::from_secs(172_800)), "2d");
        assert_eq!(format_duration(Duration::from_secs(129_600)), "1d12h");
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0");
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
    }

    #[test]
    fn proto_time_round_trips() {
        let t = parse_timestamp("2026-11-24T12:00:00.123456").unwrap();
        assert_eq!(from_proto_timestamp(&to_proto_timestamp(t)), t);
        let d = Duration::from_secs(7200);
        assert_eq!(from_proto_duration(&to_proto_duration(d)), d);
        assert_eq!(format_rfc3339(t), "2026-11-24T12:00:00.123456Z");
        assert_eq!(format_feast_cli(t), "2026-11-24 12:00:00+00:00");
    }
}
