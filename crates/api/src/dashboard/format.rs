//! How times and durations read on the dashboard.

use chrono::{DateTime, Utc};

/// `340 ms`, `1.2 s`, `2 min 5 s`: precise where it is short, rounded where it is long.
pub fn duration_ms(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{} ms", ms.max(0)),
        // Truncated, not rounded: 59.99 s must not read as "59.9 s".
        1_000..60_000 => format!("{:.1} s", (ms / 100) as f64 / 10.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(duration_ms(-5), "0 ms");
        assert_eq!(duration_ms(340), "340 ms");
        assert_eq!(duration_ms(1_250), "1.2 s");
        assert_eq!(duration_ms(59_999), "59.9 s");
        assert_eq!(duration_ms(125_000), "2 min 5 s");
    }

    #[test]
    fn short_shas_tolerate_short_input() {
        assert_eq!(short_sha("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_sha("abc"), "abc");
    }
}
