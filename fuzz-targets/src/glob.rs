//! The `glob` target: `rmkit::key::glob_match` against a plain recursive reference written from
//! Redis's `stringmatchlen` (util.c), on short inputs where the reference's exponential worst
//! case is still cheap.

/// Inputs longer than this are ignored: the reference is exponential in the number of `*`.
const MAX: usize = 48;

/// Redis's `stringmatchlen` (without the nocase flag and the nesting limit), recursively.
fn reference(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let mut p = p;
            while p.len() > 1 && p[1] == b'*' {
                p = &p[1..];
            }
            if p.len() == 1 {
                return true;
            }
            (0..=s.len()).any(|i| reference(&p[1..], &s[i..]))
        }
        Some(_) if s.is_empty() => false,
        Some(b'?') => reference(&p[1..], &s[1..]),
        Some(b'[') => {
            let mut i = 1;
            let not = p.get(1) == Some(&b'^');
            if not {
                i += 1;
            }
            let mut matched = false;
            loop {
                if i >= p.len() {
                    // Unterminated: Redis steps back so the class ends at the pattern's end.
                    break;
                }
                if p[i] == b'\\' && p.len() - i >= 2 {
                    i += 1;
                    matched |= p[i] == s[0];
                } else if p[i] == b']' {
                    break;
                } else if p.len() - i >= 3 && p[i + 1] == b'-' {
                    let (mut a, mut b) = (p[i], p[i + 2]);
                    if a > b {
                        std::mem::swap(&mut a, &mut b);
                    }
                    matched |= a <= s[0] && s[0] <= b;
                    i += 2;
                } else {
                    matched |= p[i] == s[0];
                }
                i += 1;
            }
            if not {
                matched = !matched;
            }
            matched && reference(p.get(i + 1..).unwrap_or(&[]), &s[1..])
        }
        Some(b'\\') if p.len() >= 2 => p[1] == s[0] && reference(&p[2..], &s[1..]),
        Some(&c) => c == s[0] && reference(&p[1..], &s[1..]),
    }
}

/// The target: `sep pattern sep name` ([`split_pair`](crate::split_pair)).
pub fn glob(data: &[u8]) {
    let (pattern, name) = crate::split_pair(data);
    if pattern.len() + name.len() > MAX {
        return;
    }
    let got = rmkit::key::glob_match(pattern, name);
    let want = reference(pattern, name);
    assert_eq!(
        got,
        want,
        "glob_match({:?}, {:?})",
        String::from_utf8_lossy(pattern),
        String::from_utf8_lossy(name)
    );
}
