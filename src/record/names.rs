//! Recording file names: sanitizing app/stream names and a small UTC date
//! formatter (civil-from-days arithmetic, no date crate).
//!
//! Rules:
//! * [`sanitize_component`] keeps `[A-Za-z0-9._-]`, maps every other char
//!   (including `/`, `\`, NUL, control chars and any non-ASCII char such as
//!   U+FFFD) to `_`, turns leading dots into `_`, caps the result at
//!   [`MAX_COMPONENT_BYTES`] and never returns an empty string. The result
//!   can therefore never name a parent directory, an absolute path or a
//!   hidden file.
//! * [`file_name`] builds `{app}_{stream}_{YYYYMMDD}_{HHMMSS}.flv`, with
//!   `_{n}` before `.flv` for the n-th (n >= 2) file of one key in one second.

use std::time::{SystemTime, UNIX_EPOCH};

/// Longest sanitized app or stream component, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 100;

/// Stand-in for an empty name.
const EMPTY_NAME: &str = "unnamed";

/// A sanitized file-name component (see the module rules).
pub fn sanitize_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_COMPONENT_BYTES));
    let mut leading = true;
    for c in name.chars() {
        if out.len() >= MAX_COMPONENT_BYTES {
            break;
        }
        let keep = c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-';
        let mapped = if !keep || (leading && c == '.') {
            '_'
        } else {
            c
        };
        if c != '.' {
            leading = false;
        }
        // Every pushed char is ASCII, so the length cap always falls on a
        // char boundary.
        out.push(mapped);
    }
    if out.is_empty() {
        out.push_str(EMPTY_NAME);
    }
    out
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
///
/// Works in 400-year eras of 146097 days, with years starting on March 1 so
/// that the leap day is the last day of a year.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// UTC fields of `t` (whole seconds; times before 1970 are supported).
pub fn utc_from_system_time(t: SystemTime) -> UtcDateTime {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => {
            let d = e.duration();
            // Round towards the past: -0.5 s is 23:59:59 of the day before.
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
            if d.subsec_nanos() > 0 {
                -whole - 1
            } else {
                -whole
            }
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    UtcDateTime {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
    }
}

/// `{app}_{stream}_{YYYYMMDD}_{HHMMSS}.flv` (or `..._{n}.flv` for n >= 2),
/// with both names sanitized.
pub fn file_name(app: &str, stream: &str, started: SystemTime, n: u32) -> String {
    let t = utc_from_system_time(started);
    let app = sanitize_component(app);
    let stream = sanitize_component(stream);
    let mut name = format!(
        "{app}_{stream}_{:04}{:02}{:02}_{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if n >= 2 {
        name.push('_');
        name.push_str(&n.to_string());
    }
    name.push_str(".flv");
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_dates() {
        type Fields = (i64, u32, u32, u32, u32, u32);
        let cases: &[(u64, Fields)] = &[
            (0, (1970, 1, 1, 0, 0, 0)),
            (951_782_400, (2000, 2, 29, 0, 0, 0)),
            (951_868_799, (2000, 2, 29, 23, 59, 59)),
            (951_868_800, (2000, 3, 1, 0, 0, 0)),
            (1_709_210_096, (2024, 2, 29, 12, 34, 56)),
            (4_107_542_399, (2100, 2, 28, 23, 59, 59)),
            (4_107_542_400, (2100, 3, 1, 0, 0, 0)),
            (1_735_689_599, (2024, 12, 31, 23, 59, 59)),
            (1_735_689_600, (2025, 1, 1, 0, 0, 0)),
        ];
        for &(secs, (y, mo, d, h, mi, s)) in cases {
            let t = utc_from_system_time(at(secs));
            assert_eq!(
                t,
                UtcDateTime {
                    year: y,
                    month: mo,
                    day: d,
                    hour: h,
                    minute: mi,
                    second: s
                },
                "secs {secs}"
            );
        }
    }

    #[test]
    fn before_epoch() {
        let t = utc_from_system_time(UNIX_EPOCH - Duration::from_millis(500));
        assert_eq!((t.year, t.month, t.day), (1969, 12, 31));
        assert_eq!((t.hour, t.minute, t.second), (23, 59, 59));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    /// Walking day by day from 1900 to 2200 must step the calendar exactly
    /// like month lengths say (leap years: /4, not /100, except /400).
    #[test]
    fn consecutive_days_follow_the_calendar() {
        let days_in = |y: i64, m: u32| -> u32 {
            match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                _ => 28,
            }
        };
        let start = -25_567; // 1900-01-01
        let mut expect = (1900i64, 1u32, 1u32);
        for day in start..start + 300 * 366 {
            assert_eq!(civil_from_days(day), expect, "day {day}");
            let (y, m, d) = expect;
            expect = if d < days_in(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn file_name_format() {
        let t = at(1_709_210_096);
        assert_eq!(
            file_name("live", "cap", t, 1),
            "live_cap_20240229_123456.flv"
        );
        assert_eq!(
            file_name("live/sub", "cap", t, 2),
            "live_sub_cap_20240229_123456_2.flv"
        );
        assert_eq!(file_name("a", "b", at(0), 17), "a_b_19700101_000000_17.flv");
    }

    #[test]
    fn hostile_components() {
        assert_eq!(sanitize_component("../../etc/x"), "___.._etc_x");
        assert_eq!(sanitize_component(".."), "__");
        assert_eq!(sanitize_component(".hidden"), "_hidden");
        assert_eq!(sanitize_component("/abs"), "_abs");
        assert_eq!(sanitize_component("a\\b"), "a_b");
        assert_eq!(sanitize_component("a\0b\n\x7f"), "a_b__");
        assert_eq!(sanitize_component("é\u{FFFD}"), "__");
        assert_eq!(sanitize_component(""), "unnamed");
        assert_eq!(sanitize_component("ok-name_1.2"), "ok-name_1.2");
        let long = "é".repeat(3000);
        let s = sanitize_component(&long);
        assert_eq!(s.len(), MAX_COMPONENT_BYTES);
    }

    /// Random strings (any Unicode) always give a short, non-empty,
    /// separator-free component that is not "." or ".." and has no leading dot.
    #[test]
    fn random_names_are_safe() {
        for seed in 0..300u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let len = rng.random_range(0..300);
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(0.5) {
                        char::from(rng.random_range(0u8..128))
                    } else {
                        char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('\u{FFFD}')
                    }
                })
                .collect();
            let c = sanitize_component(&s);
            let ok = !c.is_empty()
                && c.len() <= MAX_COMPONENT_BYTES
                && !c.starts_with('.')
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
            assert!(ok, "seed {seed}: {s:?} -> {c:?}");
        }
    }
}
