//! Scanning: the keyspace ([`Context::scan`]) and the fields of one key ([`Key::scan_fields`]).

use super::{Key, KeyKind};
use crate::ffi::scan::ScanCursor as RawCursor;
use crate::{Context, Error, RedisStr, Result};

/// A position in a scan, for [`Context::scan`] or [`Key::scan_fields`]. It survives across
/// calls and commands: keep it (for example in a `Mutex` in a static, or inside a module
/// value) to resume where the last call stopped, as `SCAN`'s cursor does.
///
/// The guarantees are `SCAN`'s: an element present for the whole scan is returned at least
/// once (perhaps more than once); elements added or removed during it may or may not be.
pub struct ScanCursor(RawCursor);

impl ScanCursor {
    /// A cursor at the start.
    pub fn new() -> ScanCursor {
        ScanCursor(RawCursor::new())
    }

    /// Back to the start (for a new scan with the same cursor).
    pub fn restart(&mut self) {
        self.0.restart();
    }
}

impl Default for ScanCursor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ScanCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScanCursor")
    }
}

impl Context {
    /// One step of a keyspace scan (`RedisModule_Scan`): calls `f(ctx, name, key)` for a few
    /// keys of the current database (`key` is opened for reading, `None` if it could not be);
    /// returns whether there is more to scan. Loop until it returns `false` to visit every key,
    /// or stop and keep the cursor to go on later.
    ///
    /// **While scanning** (the C API's rules): inside `f`, only the key being visited may be
    /// changed or deleted; touching other keys may make the scan miss or repeat elements. To
    /// change the visited key, drop the read handle `f` was given first, then open it for
    /// writing: `drop(key); ctx.open_key_writable(name).delete()?` (opening it while the read
    /// handle lives is refused: a write could free what that handle lent out). To change many
    /// keys, collect their names and act on them after the step.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) {
    /// let mut cursor = rmkit::key::ScanCursor::new();
    /// let mut n = 0;
    /// while ctx.scan(&mut cursor, |_ctx, name, _key| {
    ///     if name.as_bytes().starts_with(b"user:") {
    ///         n += 1;
    ///     }
    /// }) {}
    /// # }
    /// ```
    pub fn scan(
        &self,
        cursor: &mut ScanCursor,
        mut f: impl FnMut(&Context, &RedisStr, Option<Key<'_>>),
    ) -> bool {
        self.raw().scan(&mut cursor.0, &mut f)
    }
}

impl Key<'_> {
    /// One step of a scan of this key's elements (`RedisModule_ScanKey`): `f(field, value)`
    /// for a hash, `f(member, None)` for a set, `f(member, Some(score))` — the score as a
    /// string — for a sorted set; returns whether there is more. An empty key has nothing to
    /// scan (`Ok(false)`); another type is `WRONGTYPE`.
    ///
    /// **While scanning** (the C API's rules): inside `f`, only the element being visited may
    /// be deleted or changed; adding or removing others may make the scan miss or repeat
    /// elements. Small hashes, sets and sorted sets (listpack/intset) are visited whole in one
    /// step.
    pub fn scan_fields(
        &self,
        cursor: &mut ScanCursor,
        mut f: impl FnMut(&RedisStr, Option<&RedisStr>),
    ) -> Result<bool> {
        match self.kind() {
            KeyKind::Empty => Ok(false),
            KeyKind::Hash | KeyKind::Set | KeyKind::ZSet => {
                Ok(self.handle().scan_fields(&mut cursor.0, &mut f))
            }
            _ => Err(Error::wrong_type()),
        }
    }
}

/// Whether `name` matches the glob `pattern` as Redis matches `KEYS`/`SCAN MATCH` patterns:
/// `*` any run, `?` any byte, `[abc]`, `[^a]`, `[a-z]` classes, `\x` a literal `x`; bytes, case
/// sensitive. Runs in O(pattern × name) time whatever the pattern (no exponential
/// backtracking on `*a*a*a*b`).
///
/// ```
/// use rmkit::key::glob_match;
/// assert!(glob_match(b"user:*", b"user:42"));
/// assert!(glob_match(b"h[ae]llo", b"hallo"));
/// assert!(!glob_match(b"h[^e]llo", b"hello"));
/// assert!(glob_match(b"a\\*b", b"a*b"));
/// ```
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` was, and the name position it is now stretched to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < pattern.len() {
            if pattern[pi] == b'*' {
                while pi < pattern.len() && pattern[pi] == b'*' {
                    pi += 1;
                }
                if pi == pattern.len() {
                    return true;
                }
                star = Some((pi, si));
                continue;
            }
            if si < name.len()
                && let Some(len) = match_one(&pattern[pi..], name[si])
            {
                pi += len;
                si += 1;
                continue;
            }
        } else if si == name.len() {
            return true;
        }
        // A mismatch: let the last `*` take one more byte, or fail.
        match star {
            Some((sp, ss)) if ss < name.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// If byte `c` matches the single-byte element at the start of `p` (`?`, `\x`, a class or a
/// literal; never `*`), how many pattern bytes that element takes.
fn match_one(p: &[u8], c: u8) -> Option<usize> {
    match p[0] {
        b'?' => Some(1),
        b'\\' if p.len() >= 2 => (p[1] == c).then_some(2),
        b'[' => {
            let mut i = 1;
            let negate = p.get(1) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            // Redis's rules: `\x` is literal, `]` ends the class (even first), a class left open
            // runs to the end of the pattern, `a-z` (either order) is a range.
            loop {
                if i >= p.len() {
                    break;
                }
                let rest = p.len() - i;
                if p[i] == b'\\' && rest >= 2 {
                    matched |= p[i + 1] == c;
                    i += 2;
                } else if p[i] == b']' {
                    i += 1;
                    break;
                } else if rest >= 3 && p[i + 1] == b'-' {
                    let (lo, hi) = (p[i].min(p[i + 2]), p[i].max(p[i + 2]));
                    matched |= (lo..=hi).contains(&c);
                    i += 3;
                } else {
                    matched |= p[i] == c;
                    i += 1;
                }
            }
            (matched != negate).then_some(i)
        }
        other => (other == c).then_some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_follow_redis() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"*", b""),
            (b"*", b"anything"),
            (b"a*", b"a"),
            (b"*a", b"bba"),
            (b"a?c", b"abc"),
            (b"a*b*c", b"aXXbYYc"),
            (b"[abc]", b"b"),
            (b"[a-c]x", b"bx"),
            (b"[c-a]x", b"bx"),
            (b"[^a]", b"b"),
            (b"\\*", b"*"),
            (b"[\\]]", b"]"),
            (b"[ab", b"a"),
            (b"***a", b"a"),
            (b"*a*a*a*a*a*a*a*a*b", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
        ];
        for (p, s) in yes {
            assert!(glob_match(p, s), "{:?} should match {:?}", p, s);
        }
        let no: &[(&[u8], &[u8])] = &[
            (b"a", b""),
            (b"", b"a"),
            (b"a?c", b"ac"),
            (b"[^a]", b"a"),
            (b"[]a", b"a"),
            (b"a*b", b"aXXc"),
            (
                b"*a*a*a*a*a*a*a*a*b",
                b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
            (b"\\a", b"\\a"),
        ];
        for (p, s) in no {
            assert!(!glob_match(p, s), "{:?} should not match {:?}", p, s);
        }
    }
}
