//! Bad input, table-driven: every wrong arity, WRONGTYPE, non-UTF-8 and binary keys, fields and
//! values, empty strings, integers at the i64 limits and beyond, NaN/inf, invalid and deeply
//! nested JSON, paths that select nothing or do not parse, templates with unbalanced braces, and
//! a bulk argument over `proto-max-bulk-len`, against one server with hashex and json.
//!
//! Each case asserts the exact reply or the exact error text; for every error (and every reply
//! that must change nothing) the data set's `DEBUG DIGEST` is the same before and after, and the
//! server answers `PING` after every case. Run with `-- --nocapture` to see the case count.

use redis::{Connection, Value};
use rmkit_tests::{Server, err_text};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The command's arguments, each converted to bytes (`b"..."`, `&str`, `String`, `Vec<u8>`).
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(AsRef::<[u8]>::as_ref(&$a).to_vec()),*] };
}

/// What a case expects.
enum Want {
    /// This exact reply; the data set may change.
    Reply(Value),
    /// This exact reply, and the data set stays the same.
    Same(Value),
    /// This exact error text (`CODE message`), and the data set stays the same.
    Error(String),
    /// An error starting with this text, and the data set stays the same.
    ErrorPrefix(&'static str),
}

struct Case {
    args: Vec<Vec<u8>>,
    want: Want,
}

fn reply(args: Vec<Vec<u8>>, v: Value) -> Case {
    Case {
        args,
        want: Want::Reply(v),
    }
}

fn same(args: Vec<Vec<u8>>, v: Value) -> Case {
    Case {
        args,
        want: Want::Same(v),
    }
}

fn error(args: Vec<Vec<u8>>, text: impl Into<String>) -> Case {
    Case {
        args,
        want: Want::Error(text.into()),
    }
}

fn bulk(b: impl AsRef<[u8]>) -> Value {
    Value::BulkString(b.as_ref().to_vec())
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

fn run(con: &mut Connection, args: &[Vec<u8>]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(std::str::from_utf8(&args[0]).expect("command names are UTF-8"));
    for a in &args[1..] {
        c.arg(a.as_slice());
    }
    c.query(con)
}

fn digest(con: &mut Connection) -> Value {
    redis::cmd("DEBUG").arg("DIGEST").query(con).unwrap()
}

fn ping(con: &mut Connection) {
    let pong: String = redis::cmd("PING").query(con).unwrap();
    assert_eq!(pong, "PONG");
}

fn wrong_args(cmd: &str) -> String {
    format!("ERR wrong number of arguments for '{cmd}' command")
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";

fn invalid_json(reason: &str) -> String {
    format!("ERR invalid JSON: {reason}")
}

fn invalid_path(reason: &str, at: usize) -> String {
    format!("ERR invalid path: {reason} at byte {at}")
}

/// The document every path and template case reads.
const D: &str = r#"{"a":{"b":[1,2,3]},"n":1,"s":"x"}"#;

fn hashex_cases() -> Vec<Case> {
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let bin_key: &[u8] = b"bin\x00\xff\r\n";
    let bin_field: &[u8] = b"\x00\xfe\r\n \"";
    let bin_value: &[u8] = b"\x80\x00v\r\n";
    vec![
        // Arity: HGETSET takes exactly 3 arguments, HMGETSET a key and pairs.
        error(args![b"hgetset"], wrong_args("hgetset")),
        error(args![b"hgetset", b"h"], wrong_args("hgetset")),
        error(args![b"hgetset", b"h", b"f"], wrong_args("hgetset")),
        error(
            args![b"hgetset", b"h", b"f", b"v", b"x"],
            wrong_args("hgetset"),
        ),
        error(args![b"HgEtSeT", b"h", b"f"], wrong_args("hgetset")),
        error(args![b"hmgetset"], wrong_args("hmgetset")),
        error(args![b"hmgetset", b"h"], wrong_args("hmgetset")),
        error(args![b"hmgetset", b"h", b"f"], wrong_args("hmgetset")),
        error(
            args![b"hmgetset", b"h", b"f", b"v", b"g"],
            wrong_args("hmgetset"),
        ),
        error(
            args![b"hmgetset", b"h", b"f", b"v", b"g", b"w", b"x"],
            wrong_args("hmgetset"),
        ),
        // WRONGTYPE on every other kind of key, native and module.
        error(args![b"hgetset", b"str", b"f", b"v"], WRONGTYPE),
        error(args![b"hgetset", b"l", b"f", b"v"], WRONGTYPE),
        error(args![b"hgetset", b"z", b"f", b"v"], WRONGTYPE),
        error(args![b"hgetset", b"d", b"f", b"v"], WRONGTYPE),
        error(args![b"hmgetset", b"str", b"f", b"v"], WRONGTYPE),
        error(args![b"hmgetset", b"z", b"f", b"v", b"g", b"w"], WRONGTYPE),
        error(args![b"hmgetset", b"d", b"f", b"v"], WRONGTYPE),
        // Binary-safe keys, fields and values; empty strings are values like any other.
        reply(args![b"hgetset", bin_key, bin_field, bin_value], Value::Nil),
        reply(args![b"hgetset", bin_key, bin_field, b""], bulk(bin_value)),
        same(args![b"hget", bin_key, bin_field], bulk(b"")),
        reply(args![b"hgetset", b"", b"", b""], Value::Nil),
        reply(args![b"hgetset", b"", b"", b"x"], bulk(b"")),
        reply(args![b"hgetset", "ключ", "поле", "значение"], Value::Nil),
        same(args![b"hget", "ключ", "поле"], bulk("значение")),
        reply(args![b"hgetset", b"bighash", b"f", all_bytes], Value::Nil),
        reply(
            args![b"hgetset", b"bighash", b"f", b"small"],
            bulk(&all_bytes),
        ),
        // A field repeated in one HMGETSET: later pairs see the earlier ones.
        reply(
            args![b"hmgetset", b"hm", b"f", b"1", b"f", b"2"],
            arr(vec![Value::Nil, bulk("1")]),
        ),
        reply(
            args![b"hmgetset", b"hm", b"\xff", b"\xfe", b"f", b"3"],
            arr(vec![Value::Nil, bulk("2")]),
        ),
        same(
            args![b"hmget", b"hm", b"\xff", b"f"],
            arr(vec![bulk(b"\xfe"), bulk("3")]),
        ),
        reply(args![b"hgetset", b"h", b"f", b"v2"], bulk("v")),
    ]
}

fn json_cases() -> Vec<Case> {
    let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
    let deepest = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let deepest_path = format!("${}", "[0]".repeat(126));
    vec![
        // Arity.
        error(args![b"json.set"], wrong_args("json.set")),
        error(args![b"json.set", b"k"], wrong_args("json.set")),
        error(args![b"json.get"], wrong_args("json.get")),
        error(args![b"json.path", b"d"], wrong_args("json.path")),
        error(args![b"json.fmt", b"d"], wrong_args("json.fmt")),
        error(args![b"json.fmt", b"d", b"x", b"y"], wrong_args("json.fmt")),
        error(args![b"json.del"], wrong_args("json.del")),
        error(args![b"json.type"], wrong_args("json.type")),
        error(args![b"json.arrlen"], wrong_args("json.arrlen")),
        error(
            args![b"json.numincrby", b"d", b"$.n"],
            wrong_args("json.numincrby"),
        ),
        error(args![b"json.debug"], wrong_args("json.debug")),
        error(
            args![b"json.debug", b"memory"],
            wrong_args("json.debug|memory"),
        ),
        error(
            args![b"json.debug", b"memory", b"d", b"x"],
            "ERR Path '$.x' does not exist",
        ),
        error(
            args![b"json.debug", b"help", b"x"],
            wrong_args("json.debug|help"),
        ),
        error(
            args![b"json.debug", b"nonsense", b"d"],
            "ERR unknown subcommand 'nonsense'. Try JSON.DEBUG HELP.",
        ),
        // Trailing and unknown keywords. Three arguments after the key are RedisJSON's form
        // (`path value [NX|XX]`), so "1 NX XX" reads the value NX; RedisJSON ignores trailing
        // arguments of its read commands and of JSON.DEL (so do we).
        error(
            args![b"json.set", b"d", b"1", b"NX", b"XX"],
            "expected value at line 1 column 1",
        ),
        error(
            args![b"json.set", b"d", b"1", b"YY"],
            "expected value at line 1 column 1",
        ),
        error(args![b"json.set", b"d", b"$", b"1", b"NX", b"XX"], SYNTAX),
        error(args![b"json.set", b"d", b"$", b"1", b"YY"], SYNTAX),
        error(
            args![b"json.get", b"d", b"PRETTY", b"x"],
            "ERR Path 'PRETTY' does not exist",
        ),
        error(
            args![b"json.get", b"d", b"ugly"],
            "ERR Path '$.ugly' does not exist",
        ),
        error(args![b"json.path", b"d", b"$", b"UGLY"], SYNTAX),
        same(
            args![b"json.type", b"d", b"$", b"x"],
            arr(vec![bulk("object")]),
        ),
        same(args![b"json.del", b"missing", b"$", b"x"], int(0)),
        same(
            args![b"json.arrlen", b"d", b"$", b"x"],
            arr(vec![Value::Nil]),
        ),
        // The RedisJSON commands: arity, WRONGTYPE, missing keys, bad numbers and JSON.
        error(args![b"json.mget", b"d"], wrong_args("json.mget")),
        error(args![b"json.mset", b"d", b"$"], wrong_args("json.mset")),
        error(
            args![b"json.mset", b"d", b"$", b"1", b"e"],
            wrong_args("json.mset"),
        ),
        error(
            args![b"json.arrappend", b"d", b"$"],
            wrong_args("json.arrappend"),
        ),
        error(
            args![b"json.arrinsert", b"d", b"$", b"0"],
            wrong_args("json.arrinsert"),
        ),
        error(
            args![b"json.arrinsert", b"d", b"$", b"x", b"1"],
            "Couldn't parse as integer",
        ),
        error(
            args![b"json.arrtrim", b"d", b"$", b"0"],
            wrong_args("json.arrtrim"),
        ),
        error(
            args![b"json.arrindex", b"d", b"$"],
            wrong_args("json.arrindex"),
        ),
        error(args![b"json.toggle", b"d"], wrong_args("json.toggle")),
        error(args![b"json.merge", b"d", b"$"], wrong_args("json.merge")),
        error(args![b"json.strappend", b"d"], wrong_args("json.strappend")),
        error(
            args![b"json.nummultby", b"d", b"$"],
            wrong_args("json.nummultby"),
        ),
        error(args![b"json.clear"], wrong_args("json.clear")),
        error(args![b"json.objkeys"], wrong_args("json.objkeys")),
        error(args![b"json.resp"], wrong_args("json.resp")),
        error(args![b"json.forget"], wrong_args("json.forget")),
        error(args![b"json.arrappend", b"h", b"$", b"1"], WRONGTYPE),
        error(args![b"json.arrpop", b"str"], WRONGTYPE),
        error(args![b"json.toggle", b"l", b"$"], WRONGTYPE),
        error(args![b"json.merge", b"z", b"$", b"{}"], WRONGTYPE),
        error(
            args![b"json.mset", b"d", b"$", b"1", b"h", b"$", b"1"],
            WRONGTYPE,
        ),
        error(args![b"json.objlen", b"str"], WRONGTYPE),
        error(args![b"json.clear", b"h"], WRONGTYPE),
        error(
            args![b"json.arrappend", b"missing", b"$", b"1"],
            "ERR could not perform this operation on a key that doesn't exist",
        ),
        error(
            args![b"json.toggle", b"missing", b"$"],
            "ERR could not perform this operation on a key that doesn't exist",
        ),
        error(
            args![b"json.set", b"missing", b"$.a", b"1"],
            "ERR new objects must be created at the root",
        ),
        error(
            args![b"json.mset", b"d", b"$", b"1", b"missing", b"$.a", b"1"],
            "ERR new objects must be created at the root",
        ),
        error(
            args![b"json.arrappend", b"d", b"$.a.b", b"{bad"],
            "key must be a string at line 1 column 2",
        ),
        error(
            args![b"json.arrinsert", b"d", b"$.a.b", b"9", b"1"],
            "ERR index out of bounds",
        ),
        error(
            args![b"json.set", b"d", b"$..b", b"1", b"NX"],
            "Err wrong static path",
        ),
        error(
            args![b"json.set", b"d", b"$.a.b[7]", b"1"],
            "ERR array index out of range",
        ),
        error(
            args![b"json.toggle", b"d", b".n"],
            "ERR Path '$.n' does not exist or not a bool",
        ),
        error(
            args![b"json.strappend", b"d", b"$.s", b"1"],
            "WRONGTYPE wrong type of path value - expected string but found 1",
        ),
        error(args![b"json.get", b"d", b"INDENT"], wrong_args("json.get")),
        // 127 levels deep at most, also when a value is set below the root.
        error(
            args![b"json.set", b"d", b"$.a", &deepest],
            "ERR the document would nest 128 levels deep, more than 127",
        ),
        // A path whose evaluation explodes (nested recursive descents) fails within its step
        // budget instead of running for ever; so does a write with it, changing nothing.
        Case {
            args: args![b"json.get", b"chains", b"$..*..*..*..*..*..*"],
            want: Want::ErrorPrefix("ERR the path needs more than"),
        },
        Case {
            args: args![b"json.del", b"chains", b"$..*..*..*..*..*..*"],
            want: Want::ErrorPrefix("ERR the path needs more than"),
        },
        Case {
            args: args![b"json.fmt", b"chains", b"{$..*..*..*..*..*..*}"],
            want: Want::ErrorPrefix("ERR the path needs more than"),
        },
        // WRONGTYPE: every command on native keys.
        error(args![b"json.set", b"str", b"1"], WRONGTYPE),
        error(args![b"json.set", b"h", b"1", b"XX"], WRONGTYPE),
        error(args![b"json.get", b"h"], WRONGTYPE),
        error(args![b"json.path", b"l", b"$"], WRONGTYPE),
        error(args![b"json.fmt", b"z", b"x"], WRONGTYPE),
        error(args![b"json.del", b"str"], WRONGTYPE),
        error(args![b"json.del", b"h", b"$.a"], WRONGTYPE),
        error(args![b"json.type", b"l"], WRONGTYPE),
        error(args![b"json.arrlen", b"str"], WRONGTYPE),
        error(args![b"json.numincrby", b"h", b"$", b"1"], WRONGTYPE),
        error(args![b"json.debug", b"memory", b"str"], WRONGTYPE),
        // Invalid JSON text, NaN and infinities (not JSON), non-UTF-8 and control bytes.
        error(
            args![b"json.set", b"d", b""],
            invalid_json("EOF while parsing a value at line 1 column 0"),
        ),
        error(
            args![b"json.set", b"d", b"{\"a\":}"],
            invalid_json("expected value at line 1 column 6"),
        ),
        error(
            args![b"json.set", b"d", b"[1,\n2,]"],
            invalid_json("trailing comma at line 2 column 3"),
        ),
        error(
            args![b"json.set", b"d", b"1 2"],
            invalid_json("trailing characters at line 1 column 3"),
        ),
        error(
            args![b"json.set", b"d", b"[1,2"],
            invalid_json("EOF while parsing a list at line 1 column 4"),
        ),
        error(
            args![b"json.set", b"d", b"{'a':1}"],
            invalid_json("key must be a string at line 1 column 2"),
        ),
        error(
            args![b"json.set", b"d", b"{\"a\" 1}"],
            invalid_json("expected `:` at line 1 column 6"),
        ),
        error(
            args![b"json.set", b"d", b"01"],
            invalid_json("invalid number at line 1 column 2"),
        ),
        error(
            args![b"json.set", b"d", b"NaN"],
            invalid_json("expected value at line 1 column 1"),
        ),
        error(
            args![b"json.set", b"d", b"Infinity"],
            invalid_json("expected value at line 1 column 1"),
        ),
        error(
            args![b"json.set", b"d", b"-Infinity"],
            invalid_json("invalid number at line 1 column 2"),
        ),
        error(
            args![b"json.set", b"d", b"1e400"],
            invalid_json("number out of range at line 1 column 5"),
        ),
        error(
            args![b"json.set", b"d", b"\xff"],
            invalid_json("expected value at line 1 column 1"),
        ),
        error(
            args![b"json.set", b"d", b"\"\xff\""],
            invalid_json("invalid unicode code point at line 1 column 2"),
        ),
        error(
            args![b"json.set", b"d", b"\xef\xbb\xbf1"],
            invalid_json("expected value at line 1 column 1"),
        ),
        error(
            args![b"json.set", b"d", b"\"\\ud800\""],
            invalid_json("unexpected end of hex escape at line 1 column 8"),
        ),
        error(
            args![b"json.set", b"d", b"\"a\x01\""],
            invalid_json(
                "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
            ),
        ),
        error(
            args![b"json.set", b"d", b"\"\\x\""],
            invalid_json("invalid escape at line 1 column 3"),
        ),
        // Nesting: 127 levels are fine, 128 are refused, 100 000 are refused without a crash.
        error(
            args![b"json.set", b"deep", too_deep],
            invalid_json("recursion limit exceeded at line 1 column 128"),
        ),
        Case {
            args: args![b"json.set", b"deep", "[".repeat(100_000)],
            want: Want::ErrorPrefix("ERR invalid JSON: recursion limit exceeded"),
        },
        reply(args![b"json.set", b"deep", deepest], Value::Okay),
        same(args![b"json.get", b"deep"], bulk(&deepest)),
        same(args![b"json.path", b"deep", deepest_path], bulk("[[]]")),
        // Binary and empty key names; strings with NUL and non-ASCII round-trip.
        reply(
            args![b"json.set", b"\xff\x00k", b"{\"k\":\"\\u0000\\u00ff\"}"],
            Value::Okay,
        ),
        same(
            args![b"json.get", b"\xff\x00k"],
            bulk("{\"k\":\"\\u0000\u{ff}\"}"),
        ),
        reply(args![b"del", b""], int(1)), // the empty key held a hash from the hashex cases
        reply(args![b"json.set", b"", b"[]"], Value::Okay),
        same(args![b"json.arrlen", b""], int(0)),
        reply(
            args![b"json.set", b"dup", b"{\"a\":1,\"a\":2}"],
            Value::Okay,
        ),
        same(args![b"json.get", b"dup"], bulk("{\"a\":2}")),
        // Missing keys: nil (or 0), never an error, except NUMINCRBY.
        same(args![b"json.get", b"missing"], Value::Nil),
        same(args![b"json.path", b"missing", b"$"], Value::Nil),
        same(args![b"json.fmt", b"missing", b"{x"], Value::Nil),
        same(args![b"json.type", b"missing"], Value::Nil),
        same(args![b"json.arrlen", b"missing"], Value::Nil),
        same(args![b"json.del", b"missing"], int(0)),
        // RedisJSON 2.8 also answers 0 for a missing key (MEMORY USAGE says nil).
        same(args![b"json.debug", b"memory", b"missing"], int(0)),
        error(
            args![b"json.numincrby", b"missing", b"$", b"1"],
            "ERR could not perform this operation on a key that doesn't exist",
        ),
        same(args![b"json.set", b"d", b"1", b"NX"], Value::Nil),
        // Invalid JSON is an error even where NX/XX would not have set.
        error(
            args![b"json.set", b"d", b"{bad", b"NX"],
            invalid_json("key must be a string at line 1 column 2"),
        ),
        error(
            args![b"json.set", b"missing", b"{bad", b"XX"],
            invalid_json("key must be a string at line 1 column 2"),
        ),
        same(args![b"json.set", b"missing", b"1", b"XX"], Value::Nil),
        same(args![b"exists", b"missing"], int(0)),
        // Paths that select nothing.
        same(args![b"json.path", b"d", b"$.nope"], bulk("[]")),
        same(args![b"json.path", b"d", b"$.a.b[3]"], bulk("[]")),
        // A negative index past the start clamps to the first element (RedisJSON's rule).
        same(args![b"json.path", b"d", b"$.a.b[-4]"], bulk("[1]")),
        same(args![b"json.path", b"d", b"$.s.t"], bulk("[]")),
        same(args![b"json.path", b"d", b"/nope"], bulk("[]")),
        same(args![b"json.path", b"d", b"/a/b/01"], bulk("[]")),
        same(args![b"json.path", b"d", b""], bulk(format!("[{D}]"))),
        same(args![b"json.type", b"d", b"$.nope"], arr(vec![])),
        same(args![b"json.type", b"d", b""], bulk("object")),
        same(args![b"json.arrlen", b"d", b"$.nope"], arr(vec![])),
        same(args![b"json.arrlen", b"d", b"$.s"], arr(vec![Value::Nil])),
        same(args![b"json.del", b"d", b"$.nope"], int(0)),
        same(args![b"json.numincrby", b"d", b"$.nope", b"1"], bulk("[]")),
        same(args![b"json.numincrby", b"d", b"$.s", b"1"], bulk("[null]")),
        error(
            args![b"json.numincrby", b"d", b"", b"1"],
            "ERR Path '' does not exist or does not contains a number",
        ),
        // Legacy paths and `..` (RedisJSON's forms; JSON.PATH replies every match).
        same(args![b"json.path", b"d", b"a.b"], bulk("[[1,2,3]]")),
        same(args![b"json.path", b"d", b"$..b[1:]"], bulk("[2,3]")),
        same(args![b"json.path", b"d", b"$x"], bulk("[]")),
        // Paths that do not parse.
        error(
            args![b"json.path", b"d", b"$["],
            invalid_path("expected an index, a slice, '*', '?' or a quoted name", 2),
        ),
        error(
            args![b"json.path", b"d", b"$[1"],
            invalid_path("expected ']'", 3),
        ),
        error(
            args![b"json.path", b"d", b"$['x"],
            invalid_path("unterminated quoted name", 4),
        ),
        error(
            args![b"json.path", b"d", b"$[99999999999999999999]"],
            invalid_path("index out of range", 2),
        ),
        error(
            args![b"json.path", b"d", b"/a~2"],
            invalid_path("'~' must be followed by 0 or 1", 2),
        ),
        error(
            args![b"json.path", b"d", b"$.\xff"],
            invalid_path("expected a member name after '.'", 2),
        ),
        error(
            args![b"json.path", b"d", b"/\xff"],
            invalid_path("not UTF-8", 1),
        ),
        // RedisJSON's JSON.TYPE answers nil for a legacy path that does not parse.
        same(args![b"json.type", b"d", b"x y"], Value::Nil),
        error(
            args![b"json.type", b"d", b"$.x y"],
            invalid_path("expected '.', '..' or '['", 4),
        ),
        error(
            args![b"json.arrlen", b"d", b"x"],
            "ERR Path 'x' does not exist",
        ),
        error(
            args![b"json.del", b"d", b"$["],
            invalid_path("expected an index, a slice, '*', '?' or a quoted name", 2),
        ),
        error(
            args![b"json.numincrby", b"d", b"$[", b"1"],
            invalid_path("expected an index, a slice, '*', '?' or a quoted name", 2),
        ),
        // Templates with unbalanced braces, bad or empty placeholders.
        error(
            args![b"json.fmt", b"d", b"{$.s"],
            "ERR invalid template: unmatched '{' at byte 0 (write '{{' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"x}"],
            "ERR invalid template: unmatched '}' at byte 1 (write '}}' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"}{"],
            "ERR invalid template: unmatched '}' at byte 0 (write '}}' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"{{$.s}"],
            "ERR invalid template: unmatched '}' at byte 5 (write '}}' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"{$.s}}"],
            "ERR invalid template: unmatched '}' at byte 5 (write '}}' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"ok {$.s} {"],
            "ERR invalid template: unmatched '{' at byte 9 (write '{{' for a brace)",
        ),
        error(
            args![b"json.fmt", b"d", b"{$.nope}"],
            "ERR template placeholder '$.nope' at byte 0 matches nothing",
        ),
        error(
            args![b"json.fmt", b"d", b"{a b}"],
            "ERR in template placeholder 'a b' at byte 0: invalid path: expected '.', '..' or \
             '[' at byte 2",
        ),
        error(
            args![b"json.fmt", b"d", b"{$.a{}"],
            "ERR in template placeholder '$.a{' at byte 0: invalid path: expected '.', '..' or \
             '[' at byte 3",
        ),
        same(args![b"json.fmt", b"d", b"{n}"], bulk("1")),
        same(args![b"json.fmt", b"d", b"{{}}"], bulk("{}")),
        same(args![b"json.fmt", b"d", b""], bulk("")),
        error(
            args![b"json.fmt", b"d", b"x{}"],
            "ERR invalid template: empty placeholder '{}' at byte 1 (write '{$}' for the whole \
             document, '{{}}' for braces)",
        ),
        same(args![b"json.fmt", b"d", b"{$}"], bulk(D)),
        error(
            args![b"json.fmt", b"d", b"{/}"],
            "ERR template placeholder '/' at byte 0 matches nothing",
        ),
        same(
            args![b"json.fmt", b"q", b"{$['a}b']}|{$[\"{\"]}"],
            bulk("1|2"),
        ),
        // An error quotes at most 128 bytes of the path (like Redis's own errors).
        error(
            args![
                b"json.fmt",
                b"d",
                format!("{{$.{}}}", "x".repeat(512 << 10))
            ],
            format!(
                "ERR template placeholder '$.{}...' at byte 0 matches nothing",
                "x".repeat(126)
            ),
        ),
        same(
            args![b"json.fmt", b"d", b"\xff{$.s}\x00"],
            bulk(b"\xffx\x00"),
        ),
        same(
            args![b"json.fmt", b"d", b"{$.a.b[*]}|{$.n}|{/a/b/2}"],
            bulk("[1,2,3]|1|3"),
        ),
        // Increments: not numbers, NaN/inf, out of range, i64 limits and beyond.
        // The increment is JSON text, parsed and worded as RedisJSON 2.8 does.
        error(
            args![b"json.numincrby", b"d", b"$.n", b"x"],
            "ERR expected value at line 1 column 1",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b""],
            "ERR EOF while parsing a value at line 1 column 0",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"NaN"],
            "ERR expected value at line 1 column 1",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"nan"],
            "ERR expected ident at line 1 column 2",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"inf"],
            "ERR expected value at line 1 column 1",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"1e400"],
            "ERR number out of range at line 1 column 5",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"\"1\""],
            "bad input number",
        ),
        error(
            args![b"json.numincrby", b"d", b"$.n", b"[1]"],
            "bad input number",
        ),
        same(
            args![b"json.numincrby", b"big", b"$.max", b"0"],
            bulk("[9223372036854775807]"),
        ),
        // Past i64, an integer sum stays exact while it fits u64.
        reply(
            args![b"json.numincrby", b"big", b"$.max", b"1"],
            bulk("[9223372036854775808]"),
        ),
        same(
            args![b"json.type", b"big", b"$.max"],
            arr(vec![bulk("integer")]),
        ),
        reply(
            args![b"json.numincrby", b"big", b"$.min", b"-1"],
            bulk("[-9.223372036854776e18]"),
        ),
        reply(
            args![b"json.numincrby", b"big", b"$.u", b"1"],
            bulk("[1.8446744073709552e19]"),
        ),
        reply(
            args![b"json.numincrby", b"big", b"$.i", b"9223372036854775807"],
            bulk("[9223372036854775806]"),
        ),
        reply(
            args![b"json.numincrby", b"big", b"$.i", b"-9223372036854775808"],
            bulk("[-2]"),
        ),
        same(
            args![b"json.type", b"big", b"$.i"],
            arr(vec![bulk("integer")]),
        ),
        reply(
            args![b"json.numincrby", b"big", b"$.i", b"99999999999999999999"],
            bulk("[1e20]"),
        ),
        error(
            args![b"json.numincrby", b"big", b"$.f", b"1.5e308"],
            "result is not a number",
        ),
        // One match overflows: nothing may change (the error is not replicated).
        error(
            args![b"json.numincrby", b"pair", b"$.*", b"1.5e308"],
            "result is not a number",
        ),
        // Spaces around the increment are JSON whitespace (RedisJSON accepts them too).
        reply(args![b"json.numincrby", b"root", b"$", b" 1 "], bulk("[6]")),
        same(args![b"json.get", b"root"], bulk("6")),
        // The root itself: what is replied is what is stored (also with the empty pointer).
        reply(args![b"json.numincrby", b"root", b"", b"1.5"], bulk("7.5")),
        same(args![b"json.get", b"root"], bulk("7.5")),
        // -0 is a float -0.0, as in RedisJSON.
        reply(args![b"json.set", b"negzero", b"-0"], Value::Okay),
        same(args![b"json.get", b"negzero"], bulk("-0.0")),
    ]
}

/// Keys the cases read: one of every kind the commands must refuse, and the documents.
fn capped_cases() -> Vec<Case> {
    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const NOT_FLOAT: &str = "ERR value is not a valid float";
    let arity = |c: &str| format!("ERR wrong number of arguments for '{c}' command");
    let mut cases = vec![
        error(args![b"lpushcap", b"l2", b"3"], arity("lpushcap")),
        error(args![b"lpushcap"], arity("lpushcap")),
        error(args![b"lpushcap", b"l2", b"x", b"a"], NOT_INT),
        error(
            args![b"lpushcap", b"l2", b"0", b"a"],
            "ERR cap must be a positive integer",
        ),
        error(
            args![b"lpushcap", b"l2", b"-1", b"a"],
            "ERR cap must be a positive integer",
        ),
        error(
            args![b"lpushcap", b"l2", b"99999999999999999999", b"a"],
            NOT_INT,
        ),
        error(args![b"lpushcap", b"str", b"3", b"a"], WRONGTYPE),
        error(args![b"lpushcap", b"h", b"3", b"a"], WRONGTYPE),
        error(args![b"zincrcap", b"z", b"3", b"1"], arity("zincrcap")),
        error(args![b"zincrcap", b"z", b"3", b"nan", b"m"], NOT_FLOAT),
        error(args![b"zincrcap", b"z", b"3", b"x", b"m"], NOT_FLOAT),
        error(
            args![b"zincrcap", b"z", b"0", b"1", b"m"],
            "ERR cap must be a positive integer",
        ),
        error(args![b"zincrcap", b"l", b"3", b"1", b"m"], WRONGTYPE),
        error(args![b"xaddmaxlen", b"x2", b"3", b"f"], arity("xaddmaxlen")),
        error(
            args![b"xaddmaxlen", b"x2", b"3", b"f", b"v", b"g"],
            arity("xaddmaxlen"),
        ),
        error(
            args![b"xaddmaxlen", b"x2", b"-1", b"f", b"v"],
            "ERR maxlen must not be negative",
        ),
        error(args![b"xaddmaxlen", b"x2", b"one", b"f", b"v"], NOT_INT),
        error(args![b"xaddmaxlen", b"str", b"3", b"f", b"v"], WRONGTYPE),
        error(args![b"appendcap", b"s2", b"3"], arity("appendcap")),
        error(
            args![b"appendcap", b"s2", b"0", b"abc"],
            "ERR max must be a positive integer",
        ),
        error(args![b"appendcap", b"l", b"3", b"abc"], WRONGTYPE),
        error(
            args![b"ttlcap", b"str", b"0"],
            "ERR max-ms must be a positive integer",
        ),
        error(args![b"ttlcap", b"str"], arity("ttlcap")),
        error(args![b"peek"], arity("peek")),
        error(args![b"keys.count"], arity("keys.count")),
        error(args![b"keys.count", b"a", b"b"], arity("keys.count")),
        same(args![b"keys.count", b"nothing-matches-*"], int(0)),
        same(args![b"keys.count", b"zz[unterminated"], int(0)),
        same(args![b"ttlcap", b"missing", b"1000"], int(-2)),
        same(
            args![b"peek", b"missing"],
            arr(vec![Value::SimpleString("none".into()), int(0), int(-1)]),
        ),
        same(
            args![b"peek", b"\x00\xff"],
            arr(vec![Value::SimpleString("none".into()), int(0), int(-1)]),
        ),
        reply(
            args![b"lpushcap", b"bin\x00\xff", b"1", b"\x00", b"\xff"],
            int(1),
        ),
        reply(args![b"appendcap", b"sbin", b"2", b"\x00\xff\r\n"], int(2)),
    ];
    // Glob patterns that could blow up a backtracking matcher answer at once.
    cases.push(same(args![b"keys.count", "*a".repeat(5000) + "b"], int(0)));
    cases
}

fn fixture(con: &mut Connection) {
    for args in [
        args![b"set", b"str", b"string"],
        args![b"hset", b"h", b"f", b"v"],
        args![b"rpush", b"l", b"1"],
        args![b"zadd", b"z", b"1", b"m"],
        args![b"json.set", b"d", D],
        args![
            b"json.set",
            b"big",
            r#"{"max":9223372036854775807,"min":-9223372036854775808,"u":18446744073709551615,"i":-1,"f":1.5e308}"#
        ],
        args![b"json.set", b"pair", r#"{"a":1,"b":1.5e308}"#],
        args![b"json.set", b"q", r#"{"a}b":1,"{":2}"#],
        args![b"json.set", b"root", b"5"],
        args![
            b"json.set",
            b"chains",
            format!(
                "[{}]",
                vec![format!("{}1{}", "[".repeat(20), "]".repeat(20)); 200].join(",")
            )
        ],
    ] {
        run(con, &args).unwrap_or_else(|e| panic!("fixture {args:?}: {e}"));
    }
}

/// A readable rendering of a case's arguments (long ones shortened).
fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(a);
            if a.len() > 40 {
                let head: String = s.chars().take(40).collect();
                format!("{head:?}...({} bytes)", a.len())
            } else {
                format!("{s:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn bad_input_matrix_replies_exactly_and_changes_nothing_on_errors() {
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .module("capped")
        // The smallest limit Redis accepts; see `over_limit_bulk` for why.
        .config("proto-max-bulk-len", "1mb")
        .start();
    let mut con = server.client();
    fixture(&mut con);

    let mut cases = hashex_cases();
    let hashex = cases.len();
    cases.extend(json_cases());
    let json = cases.len() - hashex;
    cases.extend(capped_cases());
    let (mut errors, mut unchanged) = (0, 0);
    // Every mismatch is collected, so one run names them all.
    let mut failures = Vec::new();
    for case in &cases {
        let before = digest(&mut con);
        let got = run(&mut con, &case.args);
        let what = show(&case.args);
        let must_keep = match &case.want {
            Want::Reply(v) | Want::Same(v) => {
                if got.as_ref().ok() != Some(v) {
                    failures.push(format!("{what}: {got:?}, want {v:?}"));
                }
                matches!(case.want, Want::Same(_))
            }
            Want::Error(text) => {
                errors += 1;
                match got {
                    Err(e) if &err_text(e.clone()) == text => {}
                    other => failures.push(format!(
                        "{what}: {:?}, want error {text}",
                        other.map_err(err_text)
                    )),
                }
                true
            }
            Want::ErrorPrefix(prefix) => {
                errors += 1;
                match got {
                    Err(e) if err_text(e.clone()).starts_with(prefix) => {}
                    other => failures.push(format!(
                        "{what}: {:?}, want error {prefix}...",
                        other.map_err(err_text)
                    )),
                }
                true
            }
        };
        if must_keep && digest(&mut con) != before {
            failures.push(format!("{what} changed the data set"));
        }
        if must_keep {
            unchanged += 1;
        }
        ping(&mut con);
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let over_limit = over_limit_bulk(&server, &mut con);
    let total = cases.len() + over_limit;
    eprintln!(
        "bad input: {total} cases ({hashex} hashex, {json} json, {} capped, {over_limit} over-limit \
         bulk); {} errors with exact text, {unchanged} with DEBUG DIGEST unchanged, PING after each",
        cases.len() - hashex - json,
        errors + over_limit,
    );
    assert!(total >= 60);
}

/// Arguments longer than `proto-max-bulk-len`. Redis refuses the *declared* length while parsing
/// the request, before reading the payload, and closes the connection. The default limit is
/// 512 MB; the server here runs with the smallest allowed, 1 MB, so that 1 MB + 1 byte stands in
/// for 512 MB + 1 without moving half a gigabyte through the test. Exactly 1 MB is accepted.
/// Returns the number of cases.
fn over_limit_bulk(server: &Server, con: &mut Connection) -> usize {
    const LIMIT: usize = 1024 * 1024;
    let mut cases = 0;
    // At the limit: accepted by both modules.
    let text = format!("\"{}\"", "a".repeat(LIMIT - 2));
    let ok: Value = redis::cmd("json.set")
        .arg("at-limit")
        .arg(&text)
        .query(con)
        .unwrap();
    assert_eq!(ok, Value::Okay);
    let old: Value = redis::cmd("hgetset")
        .arg("at-limit-h")
        .arg("f")
        .arg(vec![b'v'; LIMIT])
        .query(con)
        .unwrap();
    assert_eq!(old, Value::Nil);
    cases += 2;

    for (command, key, tail) in [
        ("JSON.SET", "over", &[][..]),
        ("HGETSET", "over-h", &["f"][..]),
    ] {
        let before = digest(con);
        let mut sock = TcpStream::connect(server.addr()).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!(
            "*{}\r\n${}\r\n{command}\r\n${}\r\n{key}\r\n",
            3 + tail.len(),
            command.len(),
            key.len()
        );
        for t in tail {
            head.push_str(&format!("${}\r\n{t}\r\n", t.len()));
        }
        head.push_str(&format!("${}\r\n", LIMIT + 1));
        sock.write_all(head.as_bytes()).unwrap();
        // The reply comes as soon as the length is read; then the server closes the connection.
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        while !reply.ends_with(b"\r\n") {
            match sock.read(&mut buf).unwrap() {
                0 => break,
                n => reply.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&reply),
            "-ERR Protocol error: invalid bulk length\r\n",
            "{command} with a {} byte argument",
            LIMIT + 1
        );
        // Sending the payload anyway may fail (the server has hung up); either way nothing more
        // is read from this connection.
        let _ = sock.write_all(&vec![b'1'; LIMIT + 1]);
        let _ = sock.write_all(b"\r\n");
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        // A fresh connection works, the data set is the same.
        let mut fresh = server.client();
        ping(&mut fresh);
        assert_eq!(
            digest(&mut fresh),
            before,
            "{command}: the data set changed"
        );
        let exists: i64 = redis::cmd("exists").arg(key).query(&mut fresh).unwrap();
        assert_eq!(exists, 0);
        cases += 1;
    }
    cases
}
