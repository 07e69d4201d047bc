//! Human-friendly numbers shared by the reporters: sizes, durations, rates, endpoints, times.

use crate::model::{Endpoint, Time};
use std::net::SocketAddr;

/// Bytes in binary units: `"0 B"`, `"120 B"`, `"1.7 KiB"`, `"3.0 MiB"`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    // Avoid "1024.0 KiB" after rounding.
    if v >= 1023.95 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

/// A duration: `"0.123 s"` below a minute, `"2m03s"` below an hour, `"1h02m03s"` above.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_string();
    }
    if secs < 59.9995 {
        return format!("{secs:.3} s");
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h == 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{h}h{m:02}m{s:02}s")
    }
}

/// A transfer rate: `"1.2 MiB/s"`; `"-"` when the duration is zero or unknown.
pub fn rate(bytes_moved: u64, secs: f64) -> String {
    if !secs.is_finite() || secs <= 0.0 {
        return "-".to_string();
    }
    let per_sec = bytes_moved as f64 / secs;
    if per_sec < 1024.0 {
        format!("{per_sec:.0} B/s")
    } else {
        format!("{}/s", bytes(per_sec.round() as u64))
    }
}

/// `192.168.0.1:21`, `[2001:db8::1]:21`.
pub fn endpoint(e: &Endpoint) -> String {
    SocketAddr::new(e.ip, e.port).to_string()
}

/// Nanoseconds from `earlier` to `t`.
fn nanos_since(t: Time, earlier: Time) -> i64 {
    t.ts.0.saturating_sub(earlier.ts.0)
}

/// Time since `start` with `t`'s precision: `"+7.011000"` (no unit). Cut toward the past,
/// before as after `start`, so that a step 0.48 ms before it reads `-0.001` at three
/// digits (not `-0.000`) and times keep their order.
pub fn relative(t: Time, start: Time) -> String {
    let ns = nanos_since(t, start);
    let sign = if ns < 0 { '-' } else { '+' };
    let digits = t.digits.min(9) as u32;
    let unit = 10u64.pow(9 - digits);
    // Units of the precision, rounded down (away from zero before `start`).
    let units = if ns < 0 {
        ns.unsigned_abs().div_ceil(unit)
    } else {
        ns.unsigned_abs() / unit
    };
    let per_sec = 10u64.pow(digits);
    let (secs, frac) = (units / per_sec, units % per_sec);
    if digits == 0 {
        return format!("{sign}{secs}");
    }
    format!("{sign}{secs}.{frac:0w$}", w = digits as usize)
}

/// UTC time of day with the capture's precision: `"09:30:07.111000"`.
pub fn time_of_day(t: Time) -> String {
    let s = t.to_string();
    match (s.find('T'), s.rfind('Z')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
        _ => s,
    }
}

/// `n` followed by `one` or `many`: `plural(1, "segment", "segments")`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(120), "120 B");
        assert_eq!(bytes(1715), "1.7 KiB");
        assert_eq!(bytes(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.123), "0.123 s");
        assert_eq!(duration(59.0), "59.000 s");
        assert_eq!(duration(123.0), "2m03s");
        assert_eq!(duration(3723.0), "1h02m03s");
        assert_eq!(duration(-1.0), "-");
    }

    #[test]
    fn rates() {
        assert_eq!(rate(1715, 0.0), "-");
        assert_eq!(rate(500, 1.0), "500 B/s");
        assert_eq!(rate(1258291, 1.0), "1.2 MiB/s");
    }

    #[test]
    fn endpoints() {
        let v4 = Endpoint {
            ip: "192.168.0.1".parse().unwrap(),
            port: 21,
        };
        let v6 = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 21,
        };
        assert_eq!(endpoint(&v4), "192.168.0.1:21");
        assert_eq!(endpoint(&v6), "[2001:db8::1]:21");
    }

    #[test]
    fn times() {
        let start = Time::new(Timestamp::from_parts(1_366_018_200, 100_000_000), 6);
        let t = Time::new(Timestamp::from_parts(1_366_018_207, 111_000_123), 6);
        assert_eq!(relative(t, start), "+7.011000");
        // Cut toward the past on both sides of the start.
        assert_eq!(relative(start, t), "-7.011001");
        let just_before = Time::new(Timestamp::from_parts(1_366_018_200, 99_517_000), 3);
        assert_eq!(relative(just_before, start), "-0.001");
        assert_eq!(
            relative(
                Time {
                    digits: 6,
                    ..just_before
                },
                start
            ),
            "-0.000483"
        );
        assert_eq!(
            relative(
                Time {
                    digits: 0,
                    ..just_before
                },
                start
            ),
            "-1"
        );
        assert_eq!(relative(start, start), "+0.000000");
        assert_eq!(time_of_day(t), "09:30:07.111000");
        let t0 = Time::new(t.ts, 0);
        assert_eq!(relative(t0, start), "+7");
        assert_eq!(time_of_day(t0), "09:30:07");
    }
}
