//! The pure argument layer: functions of bytes only, so they run in unit tests and fuzzers
//! without a server, and accept exactly what Redis accepts.

use crate::Error;

/// Parses a signed 64-bit integer with the rules of Redis's `string2ll` (what `INCRBY`,
/// `EXPIRE` and `RedisModule_StringToLongLong` use): optional `-`, no `+`, no spaces, no leading
/// zeros, no `-0`, at most 20 bytes, in `i64` range.
///
/// ```
/// use rmkit::args::parse_i64;
/// assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
/// assert!(parse_i64(b"007").is_err());
/// assert_eq!(parse_i64(b"x").unwrap_err().message(), "ERR value is not an integer or out of range");
/// ```
pub fn parse_i64(s: &[u8]) -> Result<i64, Error> {
    string2ll(s).ok_or_else(Error::not_an_integer)
}

/// Like [`parse_i64`] but also rejects negative numbers (for counts and sizes).
///
/// ```
/// assert_eq!(rmkit::args::parse_u64(b"42"), Ok(42));
/// assert!(rmkit::args::parse_u64(b"-1").is_err());
/// ```
pub fn parse_u64(s: &[u8]) -> Result<u64, Error> {
    match string2ll(s) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(Error::not_an_integer()),
    }
}

fn string2ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21 in Redis: 20 bytes at most.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let (first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &b in rest {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_redis_accepts() {
        for (s, v) in [
            ("0", 0),
            ("1", 1),
            ("-1", -1),
            ("10", 10),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(parse_i64(s.as_bytes()), Ok(v), "{s}");
        }
    }

    #[test]
    fn rejects_what_redis_rejects() {
        for s in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "00",
            "1.0",
            "1e3",
            "0x10",
            "９",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "-99999999999999999999",
            "123456789012345678901",
        ] {
            assert!(parse_i64(s.as_bytes()).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn agrees_with_std_on_every_short_number_it_accepts() {
        // Differential check: whatever we accept, Rust parses to the same value and prints back
        // to the same bytes (no leading zeros, no '+').
        for n in -2000i64..2000 {
            let s = n.to_string();
            assert_eq!(parse_i64(s.as_bytes()), Ok(n));
        }
        for s in ["-00", "0001", "+0", "--1"] {
            assert!(parse_i64(s.as_bytes()).is_err());
        }
    }
}
