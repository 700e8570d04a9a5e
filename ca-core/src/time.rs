//! The one parser of time inputs (CLI flags, API fields, configuration): RFC 3339 §5.6
//! `date-time`, to Unix seconds. Bounded, ASCII only, never panics on any string. And the one
//! formatter of times in outputs (reports, API bodies): RFC 3339 in UTC.

use x509_cert::der::DateTime;

/// Longest input looked at: a date-time with nanoseconds and an offset is 35 characters.
const MAX_LEN: usize = 64;

/// Why a time input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not an RFC 3339 date-time.
    #[error(
        "expected RFC 3339 YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM), e.g. 2022-09-07T00:00:00Z"
    )]
    Shape,
    /// A date or time field out of range.
    #[error("date or time out of range")]
    Range,
    /// Before the Unix epoch.
    #[error("before 1970-01-01T00:00:00Z")]
    BeforeEpoch,
}

/// A Unix time as RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SSZ`; after 9999 (beyond RFC 3339's
/// four-digit year) `@<seconds>`.
pub fn rfc3339(unix: u64) -> String {
    DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_or_else(|_| format!("@{unix}"), |t| datetime(&t))
}

/// `t` as RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SSZ`: what der's `Display` writes (its years are
/// 1970–9999, four digits), without the formatting machinery, as a verification report writes
/// several per signature.
pub(crate) fn datetime(t: &DateTime) -> String {
    fn two(out: &mut String, n: u8) {
        out.push(char::from(b'0' + n / 10 % 10));
        out.push(char::from(b'0' + n % 10));
    }
    let mut out = String::with_capacity(20);
    let year = t.year();
    two(&mut out, (year / 100 % 100) as u8);
    two(&mut out, (year % 100) as u8);
    for (sep, n) in [
        ('-', t.month()),
        ('-', t.day()),
        ('T', t.hour()),
        (':', t.minutes()),
        (':', t.seconds()),
    ] {
        out.push(sep);
        two(&mut out, n);
    }
    out.push('Z');
    out
}

/// Parses an RFC 3339 date-time (§5.6; `T`, `t` or a space between date and time as §5.6 NOTE
/// allows; fractional seconds are truncated) into Unix seconds. Leap seconds (`:60`) are refused:
/// the Unix clock has none.
pub fn parse_rfc3339(s: &str) -> Result<u64, TimeError> {
    // Checked before any indexing, so every later index is on a character boundary.
    if s.len() > MAX_LEN || !s.is_ascii() {
        return Err(TimeError::Shape);
    }
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Result<u32, TimeError> {
        let part = b.get(from..from + len).ok_or(TimeError::Shape)?;
        part.iter().try_fold(0u32, |n, c| match c {
            b'0'..=b'9' => Ok(n * 10 + u32::from(c - b'0')),
            _ => Err(TimeError::Shape),
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return Err(TimeError::Shape);
    }
    let small = |n: u32| u8::try_from(n).map_err(|_| TimeError::Range);
    let year = u16::try_from(digits(0, 4)?).map_err(|_| TimeError::Range)?;
    let date_time = DateTime::new(
        year,
        small(digits(5, 2)?)?,
        small(digits(8, 2)?)?,
        small(digits(11, 2)?)?,
        small(digits(14, 2)?)?,
        small(digits(17, 2)?)?,
    )
    .map_err(|_| {
        if year < 1970 {
            TimeError::BeforeEpoch
        } else {
            TimeError::Range
        }
    })?;
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(TimeError::Shape);
        }
        rest = &fraction[n..];
    }
    let offset: i64 = match rest.as_bytes() {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(s.len() - 5, 2)?, digits(s.len() - 2, 2)?);
            if hours > 23 || minutes > 59 {
                return Err(TimeError::Range);
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return Err(TimeError::Shape),
    };
    let local = i64::try_from(date_time.unix_duration().as_secs()).map_err(|_| TimeError::Range)?;
    u64::try_from(local - offset).map_err(|_| TimeError::BeforeEpoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_written_as_der_displays_them() {
        // Every day boundary of 1970–2100 (leap years, month ends), and odd times between.
        let mut unix = 0u64;
        while unix < 4_102_444_800 {
            for t in [unix, unix + 86_399, unix + 45_296] {
                let dt = DateTime::from_unix_duration(std::time::Duration::from_secs(t)).unwrap();
                assert_eq!(datetime(&dt), dt.to_string(), "{t}");
            }
            unix += 86_400;
        }
        let last = DateTime::new(9999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(datetime(&last), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn accepts_rfc3339_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2022-09-07T00:00:00Z"), Ok(1_662_508_800));
        assert_eq!(parse_rfc3339("2022-09-07t00:00:00z"), Ok(1_662_508_800));
        assert_eq!(
            parse_rfc3339("2022-09-07 09:00:00+09:00"),
            Ok(1_662_508_800)
        );
        assert_eq!(
            parse_rfc3339("2022-09-06T23:30:00.999-00:30"),
            Ok(1_662_508_800)
        );
    }

    #[test]
    fn refuses_everything_else_without_panicking() {
        for (input, error) in [
            ("2022-09-07T00:00:00+0é00", TimeError::Shape),
            ("２022-09-07T00:00:00Z", TimeError::Shape),
            ("2022-09-07T00:00:00.Z", TimeError::Shape),
            ("2022-09-07T00:00:00", TimeError::Shape),
            ("2022-09-07T00:00:00+0900", TimeError::Shape),
            ("2022-09-07T00:00:00+99:99:99", TimeError::Shape),
            ("2022-09-07T00:00:00+24:00", TimeError::Range),
            ("2022-09-07T00:00:60Z", TimeError::Range),
            ("2022-02-30T00:00:00Z", TimeError::Range),
            ("9999-99-99T99:99:99Z", TimeError::Range),
            ("1900-01-01T00:00:00Z", TimeError::BeforeEpoch),
            ("1970-01-01T00:00:00+00:01", TimeError::BeforeEpoch),
            ("-022-09-07T00:00:00Z", TimeError::Shape),
            ("yesterday", TimeError::Shape),
            ("", TimeError::Shape),
        ] {
            assert_eq!(parse_rfc3339(input), Err(error), "{input:?}");
        }
        assert_eq!(
            parse_rfc3339(&format!("2022-09-07T00:00:00.{}Z", "9".repeat(100))),
            Err(TimeError::Shape)
        );
    }
}
