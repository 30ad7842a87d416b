//! The `numbers` target: `parse_i64`/`parse_u64` against Rust's own integer parsing, and
//! `parse_f64` against Redis's `string2d` (C's `strtod` plus Redis's checks).

use rmkit::command::{parse_f64, parse_i64, parse_u64};

/// Longer inputs are cut: nothing beyond 21 bytes can be an integer, and the mutator should
/// spend its time on short strings.
const MAX_INPUT: usize = 64;

/// The `numbers` target (see the crate docs).
///
/// Besides the input itself, the first 8 bytes (if there are 8) are read as an `i64` whose
/// decimal text, and near-misses of it (`+`, leading zero, spaces, an extra digit), are checked
/// too: the mutator rarely writes 19 correct digits by itself.
pub fn numbers(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    check(data);
    check_float(data);
    if let Some(bytes) = data.get(..8) {
        let v = i64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        let text = v.to_string();
        assert_eq!(parse_i64(text.as_bytes()), Ok(v), "{text}");
        for near in [
            format!("+{text}"),
            format!("0{text}"),
            format!(" {text}"),
            format!("{text} "),
            format!("{text}0"),
            format!("{text}9"),
            format!("-{text}"),
            format!("-0{}", text.trim_start_matches('-')),
            text[..text.len() - 1].to_owned(),
        ] {
            check(near.as_bytes());
        }
        let f = f64::from_bits(u64::from_le_bytes(bytes.try_into().expect("8 bytes")));
        for text in [format!("{f}"), format!("{f:e}"), format!("{f:.3}")] {
            check_float(text.as_bytes());
        }
    }
}

/// `parse_f64`: never NaN, Redis's error text, the same value as Rust's parser, and (on Linux,
/// outside Miri) the same verdict and value as Redis's `string2d`, except for the documented
/// difference: hexadecimal floats, which `strtod` reads and `parse_f64` refuses.
fn check_float(s: &[u8]) {
    let ours = parse_f64(s);
    match &ours {
        Ok(v) => {
            assert!(!v.is_nan(), "parse_f64 accepted NaN from {s:?}");
            let rust = std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse::<f64>().ok());
            assert_eq!(rust.map(f64::to_bits), Some(v.to_bits()), "{s:?}");
        }
        Err(e) => assert_eq!(e.message(), "ERR value is not a valid float", "{s:?}"),
    }
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let redis = redis_string2d(s);
        let hex = {
            let t = s.strip_prefix(b"-").or(s.strip_prefix(b"+")).unwrap_or(s);
            t.len() > 1 && t[0] == b'0' && (t[1] | 0x20) == b'x'
        };
        if hex {
            assert!(ours.is_err(), "parse_f64 read the hexadecimal float {s:?}");
            return;
        }
        assert_eq!(
            ours.ok().map(f64::to_bits),
            redis.map(f64::to_bits),
            "parse_f64 vs Redis's string2d on {:?} ({s:?})",
            String::from_utf8_lossy(s)
        );
    }
}

/// Redis's `string2d` (util.c), which `RedisModule_StringToDouble`, `ZADD` scores and friends
/// use: `strtod` must consume the whole string, which must not start with a space; overflow
/// (±HUGE_VAL with ERANGE), underflow to zero (ERANGE) and NaN are refused.
#[cfg(all(target_os = "linux", not(miri)))]
#[allow(unsafe_code)]
fn redis_string2d(s: &[u8]) -> Option<f64> {
    let mut buf = Vec::with_capacity(s.len() + 1);
    buf.extend_from_slice(s);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated; strtod reads up to the NUL and sets `end` inside `buf`;
    // errno is thread-local.
    let (v, errno, consumed) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(buf.as_ptr().cast(), &mut end);
        let errno = *libc::__errno_location();
        (v, errno, end.offset_from(buf.as_ptr().cast()) as usize)
    };
    // SAFETY: isspace accepts any unsigned char value.
    let space = s
        .first()
        .is_some_and(|&c| unsafe { libc::isspace(c.into()) } != 0);
    let range = errno == libc::ERANGE && (v.is_infinite() || v == 0.0);
    (!s.is_empty() && !space && consumed == s.len() && !range && !v.is_nan()).then_some(v)
}

/// Whether `s` is written the way Rust prints an integer (the only spelling Redis accepts).
fn canonical(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" || digits[0] != b'0')
        && s != b"-0"
        && s.len() <= 20
}

fn check(s: &[u8]) {
    let ours_i = parse_i64(s).ok();
    let ours_u = parse_u64(s).ok();
    let text = std::str::from_utf8(s).ok();
    let std_i = text.and_then(|t| t.parse::<i64>().ok());
    let std_u = text.and_then(|t| t.parse::<u64>().ok());

    // Whatever we accept, Rust parses to the same value and prints back to the same bytes.
    if let Some(v) = ours_i {
        assert_eq!(
            std_i,
            Some(v),
            "parse_i64 accepted {s:?}, str::parse::<i64> says"
        );
        assert_eq!(
            v.to_string().as_bytes(),
            s,
            "parse_i64 accepted a non-canonical {s:?}"
        );
    }
    if let Some(v) = ours_u {
        assert_eq!(
            std_u,
            Some(v),
            "parse_u64 accepted {s:?}, str::parse::<u64> says"
        );
        assert_eq!(
            v.to_string().as_bytes(),
            s,
            "parse_u64 accepted a non-canonical {s:?}"
        );
        assert!(v <= i64::MAX as u64, "parse_u64 accepted {v} > i64::MAX");
    }
    // Whatever Rust parses and is canonical, we accept (within i64 for parse_u64 too).
    if let Some(v) = std_i {
        let is_canonical = v.to_string().as_bytes() == s;
        assert_eq!(is_canonical, canonical(s), "canonical spelling of {s:?}");
        if is_canonical {
            assert_eq!(ours_i, Some(v), "parse_i64 refused the canonical {s:?}");
        }
    }
    if let Some(v) = std_u {
        if v.to_string().as_bytes() == s {
            let expected = (v <= i64::MAX as u64).then_some(v);
            assert_eq!(ours_u, expected, "parse_u64 on the canonical {s:?}");
        }
    }
    assert_eq!(ours_u, ours_i.and_then(|v| u64::try_from(v).ok()), "{s:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_near_misses() {
        for s in [
            "0",
            "-0",
            "00",
            "+0",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
            "01",
            " 1",
            "1 ",
            "",
            "-",
        ] {
            check(s.as_bytes());
        }
        for s in [
            "1",
            "-0",
            "+.5",
            "1e3",
            "inf",
            "-Infinity",
            "nan",
            "1e",
            " 1",
            "4e-324",
            "0x10",
        ] {
            check_float(s.as_bytes());
        }
        numbers(&i64::MIN.to_le_bytes());
        numbers(&i64::MAX.to_le_bytes());
        numbers(&0i64.to_le_bytes());
    }
}
