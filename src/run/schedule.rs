//! When the next pass starts: pure arithmetic on the interval, the number of failures in a row
//! and a random number, so every rule is unit-tested without a clock.
//!
//! - After a success: `interval`.
//! - After the n-th failure in a row: `min(interval, 5 s) × 2^(n−1)`, at most
//!   `max(interval, 5 min)`. A transient error (an S3 503, an API server restart) is retried
//!   soon; a lasting one (AccessDenied) is retried less and less often, never in a hot loop.
//! - Every delay is then multiplied by a factor in [0.9, 1.1), so that replicas started together
//!   drift apart instead of racing each other on every pass.

use std::time::Duration;

/// The first retry after a failure comes at most this soon.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Failures in a row are never retried less often than this (unless the interval is longer).
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// ±10 %.
pub const JITTER: f64 = 0.1;

/// The delay before the next pass, before jitter. `failures` counts failed passes in a row
/// (0 after a success).
pub fn base_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let first = interval.min(BACKOFF_BASE);
    let cap = interval.max(BACKOFF_CAP);
    // 2^(failures-1), without overflow: past 2^20 the cap has long been reached.
    let factor = 1u32 << (failures - 1).min(20);
    first.saturating_mul(factor).min(cap)
}

/// `delay` scaled by a factor in [1 − JITTER, 1 + JITTER); `unit` is a random number in [0, 1).
pub fn jittered(delay: Duration, unit: f64) -> Duration {
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// The delay before the next pass.
pub fn next_delay(interval: Duration, failures: u32, unit: f64) -> Duration {
    jittered(base_delay(interval, failures), unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_success_waits_one_interval() {
        assert_eq!(base_delay(MINUTE, 0), MINUTE);
        assert_eq!(base_delay(secs(5), 0), secs(5));
    }

    #[test]
    fn failures_back_off_from_five_seconds_to_five_minutes() {
        let delays: Vec<u64> = (1..=9).map(|n| base_delay(MINUTE, n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_short_interval_starts_backing_off_from_the_interval() {
        assert_eq!(base_delay(secs(1), 1), secs(1));
        assert_eq!(base_delay(secs(1), 2), secs(2));
        assert_eq!(base_delay(secs(1), 10), secs(300));
    }

    #[test]
    fn a_long_interval_caps_the_backoff_at_the_interval() {
        let hour = secs(3600);
        assert_eq!(base_delay(hour, 1), secs(5));
        assert_eq!(base_delay(hour, 11), hour);
        assert_eq!(base_delay(hour, 50), hour);
    }

    #[test]
    fn many_failures_do_not_overflow() {
        assert_eq!(base_delay(MINUTE, u32::MAX), BACKOFF_CAP);
        assert_eq!(
            base_delay(Duration::MAX, u32::MAX),
            BACKOFF_BASE * (1 << 20)
        );
        assert_eq!(jittered(Duration::MAX, 1.0), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        assert_eq!(jittered(MINUTE, 0.0), secs(54));
        assert_eq!(jittered(MINUTE, 0.5), MINUTE);
        assert!(jittered(MINUTE, 0.999_999) < secs(66));
        assert!(jittered(MINUTE, 0.999_999) > secs(65));
        // Out-of-range randomness is clamped, never a negative or huge delay.
        assert_eq!(jittered(MINUTE, -3.0), secs(54));
        assert_eq!(jittered(MINUTE, 7.0), secs(66));
    }

    #[test]
    fn next_delay_combines_backoff_and_jitter() {
        assert_eq!(next_delay(MINUTE, 0, 0.5), MINUTE);
        assert_eq!(next_delay(MINUTE, 1, 0.0), Duration::from_millis(4500));
        assert_eq!(next_delay(MINUTE, 7, 1.0), secs(330));
    }
}
