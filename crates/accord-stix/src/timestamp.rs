//! STIX timestamps: RFC 3339 in UTC with a literal `Z`, compared as instants, never as strings.

use std::cmp::Ordering;
use std::fmt;

/// A parsed STIX timestamp. Ordering and equality are by instant; the digits after the
/// decimal point that were written are kept so that the precision rule can be checked.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second (digits past the ninth are truncated).
    pub nanos: u32,
    /// How many fractional digits were written.
    pub fraction_digits: u8,
}

/// Why a string is not a STIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("{0:?} is not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z")]
    Syntax(String),
    #[error("{0:?} is not a real date and time: {1}")]
    Range(String, String),
    #[error("{0:?} is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.fraction] then Z or an offset ±HH:MM)")]
    Rfc3339(String),
}

impl Timestamp {
    /// Parses the strict STIX form. A leap second (`:60`) is accepted, as RFC 3339 allows, and
    /// counted as the last representable instant of its minute so that ordering stays total.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        let syntax = || TimestampError::Syntax(s.to_owned());
        if b.len() < 20 || b[b.len() - 1] != b'Z' {
            return Err(syntax());
        }
        let digits = |r: std::ops::Range<usize>| -> Result<i32, TimestampError> {
            let mut n = 0i32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return Err(syntax());
                }
                n = n * 10 + i32::from(c - b'0');
            }
            Ok(n)
        };
        if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(syntax());
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hour, minute, mut second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        let mut nanos = 0u32;
        let mut fraction_digits = 0u8;
        let rest = &b[19..b.len() - 1];
        if !rest.is_empty() {
            if rest[0] != b'.' || rest.len() < 2 {
                return Err(syntax());
            }
            for (i, &c) in rest[1..].iter().enumerate() {
                if !c.is_ascii_digit() {
                    return Err(syntax());
                }
                if i < 9 {
                    nanos = nanos * 10 + u32::from(c - b'0');
                }
            }
            let n = rest.len() - 1;
            for _ in n..9 {
                nanos *= 10;
            }
            fraction_digits = u8::try_from(n).unwrap_or(u8::MAX);
        }
        let leap = second == 60;
        if leap {
            second = 59;
            nanos = 999_999_999;
        }
        let range = |e: jiff::Error| TimestampError::Range(s.to_owned(), e.to_string());
        let narrow = |v: i32| i8::try_from(v).map_err(|_| syntax());
        let dt = jiff::civil::DateTime::new(
            i16::try_from(year).map_err(|_| syntax())?,
            narrow(month)?,
            narrow(day)?,
            narrow(hour)?,
            narrow(minute)?,
            narrow(second)?,
            i32::try_from(nanos).map_err(|_| syntax())?,
        )
        .map_err(range)?;
        let ts = jiff::tz::Offset::UTC.to_timestamp(dt).map_err(range)?;
        // jiff gives an instant before 1970 a negative fraction; here the fraction is always
        // counted up from the second below (as `from_micros` does), so the two agree.
        let (mut seconds, mut subsec) = (ts.as_second(), ts.subsec_nanosecond());
        if subsec < 0 {
            seconds -= 1;
            subsec += 1_000_000_000;
        }
        Ok(Timestamp {
            seconds,
            nanos: subsec.unsigned_abs(),
            fraction_digits,
        })
    }

    /// Parses any RFC 3339 time (§5.6): the STIX form, or with a numeric offset (`+01:00`,
    /// `-05:30`), `t` and `z` in either case. The instant is what is kept, so two spellings of
    /// one instant compare equal. For times people type (query bounds), not for STIX properties.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        let wrong = || TimestampError::Rfc3339(s.to_owned());
        let (local, offset) = match b.last() {
            Some(b'Z' | b'z') => (&s[..s.len() - 1], 0),
            _ if b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' => {
                let two = |at: usize| -> Option<i64> {
                    let (h, l) = (b[at], b[at + 1]);
                    (h.is_ascii_digit() && l.is_ascii_digit())
                        .then(|| i64::from((h - b'0') * 10 + (l - b'0')))
                };
                let (hours, minutes) = (
                    two(b.len() - 5).ok_or_else(wrong)?,
                    two(b.len() - 2).ok_or_else(wrong)?,
                );
                if hours > 23 || minutes > 59 {
                    return Err(wrong());
                }
                let sign = if b[b.len() - 6] == b'-' { -1 } else { 1 };
                (&s[..s.len() - 6], sign * (hours * 3600 + minutes * 60))
            }
            _ => return Err(wrong()),
        };
        // The local time in the strict form, read as if it were UTC, then moved by the offset.
        let mut utc = String::with_capacity(local.len() + 1);
        utc.push_str(local);
        if utc.as_bytes().get(10) == Some(&b't') {
            utc.replace_range(10..11, "T");
        }
        utc.push('Z');
        let t = Timestamp::parse(&utc).map_err(|e| match e {
            TimestampError::Range(_, why) => TimestampError::Range(s.to_owned(), why),
            _ => wrong(),
        })?;
        Ok(Timestamp {
            seconds: t.seconds - offset,
            ..t
        })
    }

    /// A fixed-width rendering with nine fractional digits: sorts lexicographically as it sorts
    /// in time, so stores can index it as text.
    pub fn sortable(&self) -> String {
        let ts = jiff::Timestamp::new(self.seconds, i32::try_from(self.nanos).unwrap_or(0))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        format!("{}.{:09}Z", ts.strftime("%Y-%m-%dT%H:%M:%S"), self.nanos)
    }

    /// Nanoseconds since the Unix epoch, saturating outside 1677–2262 (the range of an i64).
    pub fn as_nanos_saturating(&self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(&self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(self.nanos / 1000))
    }

    /// The instant `micros` microseconds after the Unix epoch.
    pub fn from_micros(micros: i64) -> Self {
        Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
            fraction_digits: 6,
        }
    }

    /// Renders microseconds since the epoch the way TAXII and STIX expect (`…000000Z`).
    pub fn format_micros(micros: i64) -> String {
        let ts = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        format!(
            "{}.{:06}Z",
            ts.strftime("%Y-%m-%dT%H:%M:%S"),
            micros.rem_euclid(1_000_000)
        )
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seconds, self.nanos).cmp(&(other.seconds, other.nanos))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sortable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_as_instants() {
        let a = Timestamp::parse("2020-01-01T00:00:00.1Z").unwrap();
        let b = Timestamp::parse("2020-01-01T00:00:00.100000Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.fraction_digits, 1);
        assert!(Timestamp::parse("2020-01-01T00:00:00.09Z").unwrap() < a);
    }

    /// Found by the `timestamp_identifier` fuzz target: before 1970, a fraction was counted the
    /// wrong way, putting `1206-04-06T20:03:01.004Z` almost two seconds late.
    #[test]
    fn fractions_before_1970_count_up_from_their_second() {
        for (text, micros) in [
            ("1206-04-06T20:03:01.004Z", -24_101_207_818_996_000_i64),
            ("1969-12-31T23:59:59.250Z", -750_000),
            ("1970-01-01T00:00:00.250Z", 250_000),
        ] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(t.as_micros(), micros, "{text}");
            assert_eq!(t, Timestamp::from_micros(micros), "{text}");
            assert_eq!(Timestamp::parse(&t.sortable()).unwrap(), t, "{text}");
        }
        assert!(
            Timestamp::parse("1969-12-31T23:59:59.250Z").unwrap()
                < Timestamp::parse("1969-12-31T23:59:59.750Z").unwrap()
        );
    }

    #[test]
    fn rejects_bad_forms() {
        for s in [
            "2020-01-01T00:00:00+00:00",
            "2020-01-01 00:00:00Z",
            "2020-02-30T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T00:00:00z",
            "20-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn rfc3339_offsets_name_the_same_instant() {
        let z = Timestamp::parse("2026-11-30T12:00:00Z").unwrap();
        for s in [
            "2026-11-30T12:00:00Z",
            "2026-11-30t12:00:00z",
            "2026-11-30T13:00:00+01:00",
            "2026-11-30T06:30:00.000-05:30",
            "2026-12-01T01:00:00+13:00",
            "2026-11-30T12:00:00-00:00",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap(), z, "{s}");
        }
        for s in [
            "2026-11-30",
            "2026-11-30T12:00:00",
            "2026-11-30T12:00:00+1:00",
            "2026-11-30T12:00:00+24:00",
            "2026-11-30T12:00:00+01:60",
            "2026-11-30T12:00:00+0100",
            "2026-11-30 12:00:00Z",
            "2026-02-30T12:00:00+01:00",
            "yesterday",
            "",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn leap_second_and_leap_day() {
        assert!(Timestamp::parse("2016-12-31T23:59:60Z").is_ok());
        assert!(Timestamp::parse("2024-02-29T00:00:00Z").is_ok());
        assert!(Timestamp::parse("2023-02-29T00:00:00Z").is_err());
    }

    #[test]
    fn sortable_is_fixed_width() {
        let t = Timestamp::parse("2016-04-06T20:03:48.123Z").unwrap();
        assert_eq!(t.sortable(), "2016-04-06T20:03:48.123000000Z");
    }
}
