//! rmkit's ports of Redis 7.0's C test modules (tests/conformance/NAME), held to the
//! assertions of Redis's own Tcl tests for them (tests/unit/moduleapi/NAME.tcl), case by case.
//! `scripts/conformance.sh REDIS_SRC_DIR` runs the Tcl files themselves against the ports.

use redis::{Connection, Value};
use rmkit_tests::{Server, q, q_err};
use std::collections::HashMap;
use std::time::Duration;

fn server(name: &str) -> (Server, Connection) {
    let server = Server::builder()
        .module(&format!("conformance-{name}"))
        .start();
    let con = server.client();
    (server, con)
}

fn strings(con: &mut Connection, args: &[&str]) -> Vec<String> {
    q(con, args)
}

/// `MODULE UNLOAD name` succeeds (each Tcl file ends with it).
fn unloads(con: &mut Connection, name: &str) {
    let r: String = q(con, &["MODULE", "UNLOAD", name]);
    assert_eq!(r, "OK");
}

// ---- list.tcl ---------------------------------------------------------------------------

fn edit(con: &mut Connection, args: &[&str]) -> HashMap<String, Value> {
    let mut full = vec!["list.edit"];
    full.extend_from_slice(args);
    q(con, &full)
}

/// One `list.edit` case: its arguments, the counts and last index it reports, and the list after.
type EditCase<'a> = (&'a [&'a str], &'a [(&'a str, i64)], &'a [&'a str]);
/// The same with the entry at the last index (`None`: past the end).
type EditEntryCase<'a> = (
    &'a [&'a str],
    &'a [(&'a str, i64)],
    Option<&'a str>,
    &'a [&'a str],
);

fn assert_edit(con: &mut Connection, args: &[&str], expect: &[(&str, i64)], entry: Option<&str>) {
    let reply = edit(con, args);
    for (k, v) in expect {
        assert_eq!(
            reply.get(*k),
            Some(&Value::Int(*v)),
            "list.edit {args:?}: {k} in {reply:?}"
        );
    }
    assert_eq!(
        reply.get("entry"),
        entry
            .map(|e| Value::BulkString(e.as_bytes().to_vec()))
            .as_ref(),
        "list.edit {args:?}: the entry at the last index in {reply:?}"
    );
}

#[test]
fn list_set_get_insert_delete() {
    let (_s, mut con) = server("list");
    let _: () = q(&mut con, &["DEL", "k"]);
    let _: i64 = q(&mut con, &["RPUSH", "k", "x"]);
    let _: () = q(&mut con, &["list.insert", "k", "0", "foo"]);
    let _: () = q(&mut con, &["list.insert", "k", "-1", "bar"]);
    let _: () = q(&mut con, &["list.set", "k", "1", "xyz"]);
    assert_eq!(
        strings(&mut con, &["list.getall", "k"]),
        ["foo", "xyz", "bar"]
    );
    for (i, v) in [
        ("0", "foo"),
        ("1", "xyz"),
        ("2", "bar"),
        ("-1", "bar"),
        ("-3", "foo"),
    ] {
        let got: String = q(&mut con, &["list.get", "k", i]);
        assert_eq!(got, v, "list.get k {i}");
    }
    for args in [
        ["list.get", "k", "-4"],
        ["list.get", "k", "3"],
        ["list.delete", "k", "-4"],
        ["list.delete", "k", "3"],
    ] {
        assert!(
            q_err(&mut con, &args).starts_with("ERR index out"),
            "{args:?}"
        );
    }
    let _: () = q(&mut con, &["list.delete", "k", "0"]);
    let _: () = q(&mut con, &["list.delete", "k", "-1"]);
    assert_eq!(strings(&mut con, &["list.getall", "k"]), ["xyz"]);
    let _: () = q(&mut con, &["list.delete", "k", "0"]);
    let exists: i64 = q(&mut con, &["EXISTS", "k"]);
    assert_eq!(exists, 0, "removing the last element deletes the list");
    assert!(q_err(&mut con, &["list.get", "k", "x"]).starts_with("ERR index must be a number"));
    unloads(&mut con, "list");
}

#[test]
fn list_iterates_and_edits_while_iterating() {
    let (_s, mut con) = server("list");
    let reset = |con: &mut Connection, k: &str| {
        let _: () = q(con, &["DEL", k]);
        let _: i64 = q(con, &["RPUSH", k, "x", "y", "z"]);
    };
    reset(&mut con, "k");
    assert_eq!(strings(&mut con, &["list.getall", "k"]), ["x", "y", "z"]);
    assert_eq!(
        strings(&mut con, &["list.getall", "k", "REVERSE"]),
        ["z", "y", "x"]
    );

    let cases: [EditCase; 4] = [
        (
            &["k", "ikikdi", "foo", "bar", "baz"],
            &[("i", 3), ("index", 5)],
            &["foo", "x", "bar", "y", "baz"],
        ),
        (
            &["k", "REVERSE", "ikikdi", "foo", "bar", "baz"],
            &[("i", 3), ("index", -6)],
            &["baz", "y", "bar", "z", "foo"],
        ),
        (
            &["k", "rkr", "foo", "bar"],
            &[("r", 2), ("index", 3)],
            &["foo", "y", "bar"],
        ),
        (
            &["k", "reverse", "rkr", "foo", "bar"],
            &[("r", 2), ("index", -4)],
            &["bar", "y", "foo"],
        ),
    ];
    for (args, expect, after) in cases {
        reset(&mut con, "k");
        let entry = None; // past the end in each of these
        assert_edit(&mut con, args, expect, entry);
        assert_eq!(
            strings(&mut con, &["list.getall", "k"]),
            after,
            "after {args:?}"
        );
    }

    // Entry and index stay right across deletions, with one element per listpack node.
    let _: () = q(&mut con, &["CONFIG", "SET", "list-max-listpack-size", "1"]);
    let cases: [EditEntryCase; 6] = [
        (&["l", "dd"], &[("d", 2), ("index", 0)], Some("z"), &["z"]),
        (
            &["l", "reverse", "kkd"],
            &[("d", 1), ("index", -3)],
            None,
            &["y", "z"],
        ),
        (&["l", "kkd"], &[("d", 1), ("index", 2)], None, &["x", "y"]),
        (
            &["l", "reverse", "dd"],
            &[("d", 2), ("index", -1)],
            Some("x"),
            &["x"],
        ),
        (&["l", "kdd"], &[("d", 2), ("index", 1)], None, &["x"]),
        (
            &["l", "reverse", "kdd"],
            &[("d", 2), ("index", -2)],
            None,
            &["z"],
        ),
    ];
    for (args, expect, entry, after) in cases {
        reset(&mut con, "l");
        assert_edit(&mut con, args, expect, entry);
        assert_eq!(
            strings(&mut con, &["list.getall", "l"]),
            after,
            "after {args:?}"
        );
    }
    let _: () = q(&mut con, &["SET", "s", "v"]);
    assert!(q_err(&mut con, &["list.getall", "s"]).starts_with("WRONGTYPE"));
    assert!(q_err(&mut con, &["list.edit", "l", "kkkkk"]).starts_with("ERR list too short"));
    assert!(q_err(&mut con, &["list.edit", "l", "ii", "a"]).starts_with("ERR too few args"));
    unloads(&mut con, "list");
}

// ---- zset.tcl, hash.tcl -----------------------------------------------------------------

#[test]
fn zset_rem_removes_and_deletes_the_emptied_key() {
    let (_s, mut con) = server("zset");
    let _: i64 = q(&mut con, &["ZADD", "k", "100", "hello", "200", "world"]);
    let n = |con: &mut Connection, m: &str| -> i64 { q(con, &["zset.rem", "k", m]) };
    assert_eq!(n(&mut con, "hello"), 1);
    assert_eq!(n(&mut con, "hello"), 0);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "k"]), 1);
    assert_eq!(n(&mut con, "world"), 1);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "k"]), 0);
    unloads(&mut con, "zset");
}

#[test]
fn hash_set_follows_the_c_api_flags() {
    let (_s, mut con) = server("hash");
    let _: () = q(&mut con, &["SET", "k", "mystring"]);
    assert!(q_err(&mut con, &["hash.set", "k", "", "hello", "world"]).starts_with("WRONGTYPE"));
    let _: () = q(&mut con, &["DEL", "k"]);
    let steps: [(&[&str], i64); 7] = [
        (&["", "squirrel", "yes"], 0),
        (&["a", "banana", "no", "sushi", "whynot"], 2),
        (&["n", "squirrel", "hoho", "what", "nothing"], 0),
        (&["na", "squirrel", "hoho", "something", "nice"], 1),
        (&["xa", "new", "stuff", "not", "inserted"], 0),
        (&["x", "squirrel", "ofcourse"], 1),
        (&["", "sushi", ":delete:", "none", ":delete:"], 1),
    ];
    for (args, expect) in steps {
        let mut full = vec!["hash.set", "k"];
        full.extend_from_slice(args);
        assert_eq!(q::<i64>(&mut con, &full), expect, "{full:?}");
    }
    let mut all: Vec<(String, String)> = q(&mut con, &["HGETALL", "k"]);
    all.sort();
    let mut want = [
        ("squirrel", "ofcourse"),
        ("banana", "no"),
        ("what", "nothing"),
        ("something", "nice"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    want.sort();
    assert_eq!(all, want);
    unloads(&mut con, "hash");
}

// ---- scan.tcl ---------------------------------------------------------------------------

fn sorted_pairs(con: &mut Connection, args: &[&str]) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = q(con, args);
    v.sort();
    v
}

fn pairs(p: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    p.iter()
        .map(|(a, b)| ((*a).to_owned(), b.map(str::to_owned)))
        .collect()
}

#[test]
fn scan_visits_the_keyspace_and_every_encoding_of_a_key() {
    let (_s, mut con) = server("scan");
    for (k, v) in [("x", "1"), ("y", "2"), ("z", "3")] {
        let _: () = q(&mut con, &["SET", k, v]);
    }
    let _: i64 = q(&mut con, &["HSET", "h", "f", "v"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_strings"]),
        pairs(&[("x", Some("1")), ("y", Some("2")), ("z", Some("3"))])
    );
    let _: () = q(&mut con, &["HMSET", "hh", "f1", "v1", "f2", "v2"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "hh"]),
        pairs(&[("f1", Some("v1")), ("f2", Some("v2"))])
    );
    let _: () = q(&mut con, &["HMSET", "hh1", "f1", "1"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "hh1"]),
        pairs(&[("f1", Some("1"))])
    );
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "hash-max-ziplist-entries", "2"],
    );
    let _: () = q(&mut con, &["HMSET", "hh", "f3", "v3"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "hh"]),
        pairs(&[("f1", Some("v1")), ("f2", Some("v2")), ("f3", Some("v3"))])
    );
    let _: i64 = q(&mut con, &["ZADD", "zz", "1", "f1", "2", "f2"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "zz"]),
        pairs(&[("f1", Some("1")), ("f2", Some("2"))])
    );
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "zset-max-ziplist-entries", "2"],
    );
    let _: i64 = q(&mut con, &["ZADD", "zz", "3", "f3"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "zz"]),
        pairs(&[("f1", Some("1")), ("f2", Some("2")), ("f3", Some("3"))])
    );
    let _: i64 = q(&mut con, &["SADD", "ss", "1", "2"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "ss"]),
        pairs(&[("1", None), ("2", None)])
    );
    let _: () = q(&mut con, &["CONFIG", "SET", "set-max-intset-entries", "2"]);
    let _: i64 = q(&mut con, &["SADD", "ss", "3"]);
    assert_eq!(
        sorted_pairs(&mut con, &["scan.scan_key", "ss"]),
        pairs(&[("1", None), ("2", None), ("3", None)])
    );
    assert_eq!(q_err(&mut con, &["scan.scan_key", "missing"]), "not found");
    assert!(q_err(&mut con, &["scan.scan_key", "x"]).starts_with("WRONGTYPE"));
    unloads(&mut con, "scan");
}

// ---- stream.tcl -------------------------------------------------------------------------

type Entries = Vec<(String, Vec<String>)>;

fn entries(con: &mut Connection, args: &[&str]) -> Entries {
    q(con, args)
}

fn entry(id: &str, fields: &[&str]) -> (String, Vec<String>) {
    (
        id.to_owned(),
        fields.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[test]
fn stream_add_delete_and_errors() {
    let (_s, mut con) = server("stream");
    let id1: String = q(
        &mut con,
        &["stream.add", "mystream", "item", "1", "value", "a"],
    );
    let id2: String = q(
        &mut con,
        &["stream.add", "mystream", "item", "2", "value", "b"],
    );
    assert!(id1.contains('-'), "{id1}");
    assert_eq!(
        entries(&mut con, &["XRANGE", "mystream", "-", "+"]),
        [
            entry(&id1, &["item", "1", "value", "a"]),
            entry(&id2, &["item", "2", "value", "b"])
        ]
    );
    assert_eq!(
        q::<String>(&mut con, &["stream.delete", "mystream", &id1]),
        "OK"
    );
    assert!(
        q_err(&mut con, &["stream.delete", "mystream", "123-456"]).starts_with("ERR StreamDelete")
    );
    assert!(
        q_err(&mut con, &["stream.delete", "mystream", "foo"]).starts_with("Invalid stream ID")
    );
    assert_eq!(
        entries(&mut con, &["XRANGE", "mystream", "-", "+"]),
        [entry(&id2, &["item", "2", "value", "b"])]
    );
    let _: () = q(&mut con, &["DEL", "mystream"]);
    let _: () = q(&mut con, &["SET", "mystream", "mystring"]);
    assert!(
        q_err(
            &mut con,
            &["stream.add", "mystream", "item", "1", "value", "a"]
        )
        .starts_with("ERR StreamAdd")
    );
    assert!(
        q_err(&mut con, &["stream.delete", "mystream", "123-456"]).starts_with("ERR StreamDelete")
    );
    unloads(&mut con, "stream");
}

#[test]
fn stream_add_wakes_a_blocked_xread() {
    let (server, mut con) = server("stream");
    // Once on an empty key, once on an existing stream.
    for field in ["1", "2"] {
        let mut reader = server.client();
        let waiter = std::thread::spawn(move || -> Vec<(String, Entries)> {
            redis::cmd("XREAD")
                .arg(&["BLOCK", "20000", "STREAMS", "mystream", "$"])
                .query(&mut reader)
                .expect("XREAD BLOCK")
        });
        server.wait_for(
            "the reader to block in XREAD",
            Duration::from_secs(10),
            |s| s.info_u64("clients", "blocked_clients") == 1,
        );
        let id: String = q(
            &mut con,
            &["stream.add", "mystream", "field", field, "value", "a"],
        );
        let got = waiter.join().expect("reader thread");
        assert_eq!(
            got,
            [(
                "mystream".to_owned(),
                vec![entry(&id, &["field", field, "value", "a"])]
            )]
        );
    }
    unloads(&mut con, "stream");
}

#[test]
fn stream_iterates_both_ways_and_deletes_while_iterating() {
    let (_s, mut con) = server("stream");
    assert_eq!(
        q::<i64>(
            &mut con,
            &["stream.addn", "big", "1000000", "field", "value"]
        ),
        1_000_000
    );
    assert_eq!(q::<i64>(&mut con, &["XLEN", "big"]), 1_000_000);

    let id1: String = q(
        &mut con,
        &["XADD", "mystream", "*", "item", "1", "value", "a"],
    );
    let id2: String = q(
        &mut con,
        &["XADD", "mystream", "*", "item", "2", "value", "b"],
    );
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", "-", "+"]),
        entries(&mut con, &["XRANGE", "mystream", "-", "+"])
    );
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", "+", "-"]),
        entries(&mut con, &["XREVRANGE", "mystream", "+", "-"])
    );
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", "-", &id1]),
        [entry(&id1, &["item", "1", "value", "a"])]
    );
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", &id2, &id2]),
        [entry(&id2, &["item", "2", "value", "b"])]
    );

    let _: () = q(&mut con, &["DEL", "mystream"]);
    let a: String = q(&mut con, &["XADD", "mystream", "*", "normal", "item"]);
    let b: String = q(&mut con, &["XADD", "mystream", "*", "selfdestruct", "yes"]);
    let c: String = q(&mut con, &["XADD", "mystream", "*", "another", "item"]);
    let all = [
        entry(&a, &["normal", "item"]),
        entry(&b, &["selfdestruct", "yes"]),
        entry(&c, &["another", "item"]),
    ];
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", "-", "+"]),
        all
    );
    assert_eq!(
        entries(&mut con, &["stream.range", "mystream", "-", "+"]),
        [all[0].clone(), all[2].clone()],
        "the selfdestruct entry is gone after being returned once"
    );
    let _: () = q(&mut con, &["SET", "s", "v"]);
    assert!(
        q_err(&mut con, &["stream.range", "s", "-", "+"]).starts_with("ERR StreamIteratorStart")
    );
    unloads(&mut con, "stream");
}

#[test]
fn stream_trims_by_length_and_by_id_exactly_and_approximately() {
    let (_s, mut con) = server("stream");
    let trim = |con: &mut Connection, args: &[&str]| -> i64 {
        let mut full = vec!["stream.trim", "mystream"];
        full.extend_from_slice(args);
        q(con, &full)
    };
    let xlen = |con: &mut Connection| -> i64 { q(con, &["XLEN", "mystream"]) };
    let add3 = |con: &mut Connection| -> String {
        let _: String = q(con, &["XADD", "mystream", "*", "item", "1", "value", "a"]);
        let _: String = q(con, &["XADD", "mystream", "*", "item", "2", "value", "b"]);
        q(con, &["XADD", "mystream", "*", "item", "3", "value", "c"])
    };
    let addn = |con: &mut Connection, n: &str| {
        let _: i64 = q(
            con,
            &["stream.addn", "mystream", n, "item", "x", "value", "y"],
        );
    };

    add3(&mut con);
    assert_eq!(xlen(&mut con), 3);
    assert_eq!(trim(&mut con, &["maxlen", "=", "5"]), 0);
    assert_eq!(xlen(&mut con), 3);
    assert_eq!(trim(&mut con, &["maxlen", "=", "1"]), 2);
    assert_eq!(xlen(&mut con), 1);
    assert_eq!(trim(&mut con, &["maxlen", "=", "0"]), 1);
    addn(&mut con, "20000");
    assert_eq!(
        trim(&mut con, &["maxlen", "=", "0"]),
        20000,
        "no limit for an exact trim"
    );
    addn(&mut con, "20000");
    assert_eq!(xlen(&mut con), 20000);
    // 100 entries per node: an approximate trim removes whole nodes, at most 10,000 a call.
    assert_eq!(trim(&mut con, &["maxlen", "~", "2"]), 10000);
    assert_eq!(trim(&mut con, &["maxlen", "~", "2"]), 9900);
    assert_eq!(trim(&mut con, &["maxlen", "~", "2"]), 0);
    assert_eq!(xlen(&mut con), 100);
    assert_eq!(trim(&mut con, &["maxlen", "~", "0"]), 100);
    assert_eq!(xlen(&mut con), 0);

    let _: () = q(&mut con, &["DEL", "mystream"]);
    let minid = add3(&mut con);
    assert_eq!(trim(&mut con, &["minid", "=", "-"]), 0);
    assert_eq!(xlen(&mut con), 3);
    assert_eq!(trim(&mut con, &["minid", "=", &minid]), 2);
    assert_eq!(xlen(&mut con), 1);
    assert_eq!(trim(&mut con, &["minid", "=", "+"]), 1);
    addn(&mut con, "20000");
    assert_eq!(trim(&mut con, &["minid", "=", "+"]), 20000);
    addn(&mut con, "19980");
    let minid: String = q(
        &mut con,
        &["XADD", "mystream", "*", "item", "x", "value", "y"],
    );
    addn(&mut con, "19");
    assert_eq!(xlen(&mut con), 20000);
    assert_eq!(trim(&mut con, &["minid", "~", &minid]), 10000);
    assert_eq!(trim(&mut con, &["minid", "~", &minid]), 9900);
    assert_eq!(trim(&mut con, &["minid", "~", &minid]), 0);
    assert_eq!(xlen(&mut con), 100);
    assert_eq!(trim(&mut con, &["minid", "~", "+"]), 100);
    assert_eq!(xlen(&mut con), 0);

    for (args, err) in [
        (&["maxlen", "=", "x"][..], "ERR Maxlen must be a number"),
        (&["minid", "=", "x"], "ERR Invalid stream ID"),
        (&["other", "=", "1"], "ERR Invalid arguments"),
        (&["maxlen", "!", "1"], "ERR Invalid approx-or-exact mark"),
        (&["maxlen", "=", "-1"], "ERR Trimming failed"),
    ] {
        let mut full = vec!["stream.trim", "mystream"];
        full.extend_from_slice(args);
        assert_eq!(q_err(&mut con, &full), err, "{full:?}");
    }
    unloads(&mut con, "stream");
}

// ---- getkeys.tcl ------------------------------------------------------------------------

#[test]
fn getkeys_api_commands_report_their_keys_with_and_without_flags() {
    let (_s, mut con) = server("getkeys");
    let info: Vec<Value> = q(&mut con, &["COMMAND", "INFO", "getkeys.command"]);
    let Value::Array(info) = &info[0] else {
        panic!("COMMAND INFO getkeys.command: {info:?}")
    };
    let flags: Vec<String> = redis::from_redis_value(info[2].clone()).unwrap();
    assert_eq!(flags, ["module", "movablekeys"]);
    assert_eq!(info[3..6], [Value::Int(0), Value::Int(0), Value::Int(0)]);

    let line = [
        "arg1", "arg2", "key", "key1", "arg3", "key", "key2", "key", "key3",
    ];
    for cmd in ["getkeys.command", "getkeys.command_with_flags"] {
        let mut args = vec!["COMMAND", "GETKEYS", cmd];
        args.extend(line);
        assert_eq!(strings(&mut con, &args), ["key1", "key2", "key3"], "{cmd}");
    }
    let flagged =
        |con: &mut Connection, args: &[&str]| -> Vec<(String, Vec<String>)> { q(con, args) };
    assert_eq!(
        flagged(
            &mut con,
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "getkeys.command",
                "arg1",
                "arg2",
                "key",
                "key1",
                "arg3",
                "key",
                "key2"
            ]
        ),
        [("key1", "RW access update"), ("key2", "RW access update")]
            .map(|(k, f)| (k.to_owned(), f.split(' ').map(str::to_owned).collect()))
    );
    let mut args = vec!["COMMAND", "GETKEYSANDFLAGS", "getkeys.command_with_flags"];
    args.extend(line);
    assert_eq!(
        flagged(&mut con, &args),
        ["key1", "key2", "key3"]
            .map(|k| (k.to_owned(), vec!["RO".to_owned(), "access".to_owned()]))
    );
    // The body ran only for real calls: it replies the keys too.
    let mut args = vec!["getkeys.command"];
    args.extend(line);
    assert_eq!(strings(&mut con, &args), ["key1", "key2", "key3"]);
    unloads(&mut con, "getkeys");
}

#[test]
fn a_module_asks_for_the_keys_of_any_command_line() {
    let (_s, mut con) = server("getkeys");
    assert!(
        q_err(
            &mut con,
            &["getkeys.introspect", "0", "non-command", "key1", "key2"]
        )
        .contains("ENOENT")
    );
    assert_eq!(
        strings(
            &mut con,
            &["getkeys.introspect", "0", "set", "key1", "value1"]
        ),
        ["key1"]
    );
    let with: Vec<(String, String)> = q(
        &mut con,
        &["getkeys.introspect", "1", "set", "key1", "value1"],
    );
    assert_eq!(with, [("key1".to_owned(), "OW".to_owned())]);
    assert_eq!(
        strings(
            &mut con,
            &[
                "getkeys.introspect",
                "0",
                "eval",
                "",
                "4",
                "key1",
                "key2",
                "key3",
                "key4",
                "arg1",
                "arg2"
            ]
        ),
        ["key1", "key2", "key3", "key4"]
    );
    assert_eq!(
        strings(
            &mut con,
            &[
                "getkeys.introspect",
                "0",
                "getkeys.command",
                "arg1",
                "arg2",
                "key",
                "key1",
                "arg3",
                "key",
                "key2",
                "key",
                "key3"
            ]
        ),
        ["key1", "key2", "key3"]
    );
    assert_eq!(
        strings(
            &mut con,
            &[
                "getkeys.introspect",
                "0",
                "getkeys.fixed",
                "arg1",
                "key1",
                "key2",
                "key3",
                "arg2"
            ]
        ),
        ["key1", "key2", "key3"]
    );
    assert!(q_err(&mut con, &["getkeys.introspect", "0", "set", "key"]).contains("EINVAL"));
    unloads(&mut con, "getkeys");
}

#[test]
fn acl_key_permissions_follow_the_reported_key_flags() {
    let (_s, mut con) = server("getkeys");
    let _: () = q(
        &mut con,
        &[
            "ACL",
            "SETUSER",
            "testuser",
            "on",
            "nopass",
            "+@all",
            "%R~read*",
            "%W~write*",
            "%RW~rw*",
        ],
    );
    let dry = |con: &mut Connection, cmd: &str, key: &str| -> String {
        q(con, &["ACL", "DRYRUN", "testuser", cmd, "key", key])
    };
    // Redis says "This user has no permissions ...", Valkey "User testuser has no ...".
    let denied = |k: &str| format!("has no permissions to access the '{k}' key");
    // Without flags Redis assumes read and write.
    assert_eq!(dry(&mut con, "getkeys.command", "rw"), "OK");
    assert!(dry(&mut con, "getkeys.command", "read").ends_with(&denied("read")));
    assert!(dry(&mut con, "getkeys.command", "write").ends_with(&denied("write")));
    // RO keys need only read permission.
    assert_eq!(dry(&mut con, "getkeys.command_with_flags", "rw"), "OK");
    assert_eq!(dry(&mut con, "getkeys.command_with_flags", "read"), "OK");
    assert!(dry(&mut con, "getkeys.command_with_flags", "write").ends_with(&denied("write")));
    unloads(&mut con, "getkeys");
}

// ---- blockonkeys.tcl --------------------------------------------------------------------

/// A client that sends one command on its own connection and waits for the reply.
struct Deferred {
    id: i64,
    reply: std::thread::JoinHandle<redis::RedisResult<Value>>,
}

fn deferred(server: &Server, args: &[&str]) -> Deferred {
    let mut con = server.client();
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let reply = std::thread::spawn(move || {
        let mut c = redis::cmd(&args[0]);
        for a in &args[1..] {
            c.arg(a);
        }
        c.query::<Value>(&mut con)
    });
    Deferred { id, reply }
}

impl Deferred {
    fn wait(self) -> redis::RedisResult<Value> {
        self.reply.join().expect("client thread")
    }
}

fn blocked(server: &Server, n: u64) {
    server.wait_for(
        &format!("{n} blocked client(s)"),
        Duration::from_secs(10),
        |s| s.info_u64("clients", "blocked_clients") == n,
    );
}

fn ints(con: &mut Connection, args: &[&str]) -> Vec<i64> {
    q(con, args)
}

#[test]
fn blocked_pops_are_woken_by_pushes_and_move_elements_in_a_circle() {
    let (server, mut con) = server("blockonkeys");
    let a = deferred(&server, &["fsl.bpoppush", "src", "dst", "0"]);
    let b = deferred(&server, &["fsl.bpoppush", "dst", "src", "0"]);
    blocked(&server, 2);
    let _: () = q(&mut con, &["fsl.push", "src", "42"]);
    assert_eq!(a.wait().unwrap(), Value::Int(42));
    assert_eq!(b.wait().unwrap(), Value::Int(42));
    assert_eq!(ints(&mut con, &["fsl.getall", "src"]), [42]);
    assert_eq!(ints(&mut con, &["fsl.getall", "dst"]), Vec::<i64>::new());

    let _: () = q(&mut con, &["DEL", "src"]);
    let c = deferred(&server, &["fsl.bpoppush", "src", "src", "0"]);
    blocked(&server, 1);
    let _: () = q(&mut con, &["fsl.push", "src", "42"]);
    assert_eq!(c.wait().unwrap(), Value::Int(42));
    assert_eq!(ints(&mut con, &["fsl.getall", "src"]), [42]);
}

#[test]
fn blocked_pops_answer_at_once_time_out_or_wait_for_their_condition() {
    let (server, mut con) = server("blockonkeys");
    let _: () = q(&mut con, &["fsl.push", "k", "33"]);
    let _: () = q(&mut con, &["fsl.push", "k", "34"]);
    assert_eq!(q::<i64>(&mut con, &["fsl.bpop", "k", "0"]), 34, "no block");
    let _: () = q(&mut con, &["DEL", "k"]);
    assert_eq!(
        deferred(&server, &["fsl.bpop", "k", "1"]).wait().unwrap(),
        Value::SimpleString("Request timedout".into())
    );
    let d = deferred(&server, &["fsl.bpop", "k", "0"]);
    blocked(&server, 1);
    let _: () = q(&mut con, &["fsl.push", "k", "34"]);
    assert_eq!(d.wait().unwrap(), Value::Int(34));

    // With a condition: only an element greater than 35 answers.
    let _: () = q(&mut con, &["DEL", "k"]);
    let _: () = q(&mut con, &["fsl.push", "k", "34"]);
    assert_eq!(
        deferred(&server, &["fsl.bpopgt", "k", "35", "1"])
            .wait()
            .unwrap(),
        Value::SimpleString("Request timedout".into())
    );
    let d = deferred(&server, &["fsl.bpopgt", "k", "35", "0"]);
    blocked(&server, 1);
    let _: () = q(&mut con, &["fsl.push", "k", "35"]);
    let _: () = q(&mut con, &["fsl.push", "k", "36"]);
    assert_eq!(d.wait().unwrap(), Value::Int(36));
    assert_eq!(ints(&mut con, &["fsl.getall", "k"]), [34, 35]);
    assert_eq!(
        q::<i64>(&mut con, &["fsl.bpopgt", "k", "34", "0"]),
        35,
        "no block"
    );

    assert_eq!(
        q_err(&mut con, &["fsl.bpop", "k", "-1"]),
        "ERR invalid timeout"
    );
    assert_eq!(
        q_err(&mut con, &["fsl.bpop", "k", "0", "other"]),
        "ERR invalid argument"
    );
    assert_eq!(
        q_err(&mut con, &["fsl.push", "k", "1"]),
        "ERR new element has to be greater than the head element"
    );
}

#[test]
fn a_blocked_client_that_is_killed_or_unblocked_frees_what_it_waited_with() {
    let (server, mut con) = server("blockonkeys");
    let live = |con: &mut Connection| -> i64 {
        rmkit_tests::info_i64(con, "blockonkeys_alloc", "blockonkeys_live_bytes")
    };
    let before = live(&mut con);

    let d = deferred(&server, &["fsl.bpopgt", "k", "35", "0"]);
    blocked(&server, 1);
    assert!(
        live(&mut con) > before,
        "the waiting closure is allocated through the module's allocator"
    );
    let _: () = q(&mut con, &["CLIENT", "KILL", "ID", &d.id.to_string()]);
    assert!(
        d.wait().is_err(),
        "the killed client's connection is closed"
    );
    blocked(&server, 0);
    assert_eq!(live(&mut con), before, "CLIENT KILL dropped the waiter");

    let d = deferred(&server, &["fsl.bpopgt", "k", "35", "0"]);
    blocked(&server, 1);
    assert_eq!(
        q::<i64>(
            &mut con,
            &["CLIENT", "UNBLOCK", &d.id.to_string(), "TIMEOUT"]
        ),
        1
    );
    assert_eq!(
        d.wait().unwrap(),
        Value::SimpleString("Request timedout".into())
    );

    let d = deferred(&server, &["fsl.bpopgt", "k", "35", "0"]);
    blocked(&server, 1);
    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "UNBLOCK", &d.id.to_string(), "ERROR"]),
        1
    );
    let e = rmkit_tests::err_text(d.wait().unwrap_err());
    assert!(e.contains("unblocked"), "{e}");
    assert_eq!(live(&mut con), before, "every waiter was dropped");

    // Without a timeout callback CLIENT UNBLOCK cannot unblock it.
    for how in ["TIMEOUT", "ERROR"] {
        let _: () = q(&mut con, &["DEL", "k"]);
        let d = deferred(&server, &["fsl.bpop", "k", "0", "NO_TO_CB"]);
        blocked(&server, 1);
        assert_eq!(
            q::<i64>(&mut con, &["CLIENT", "UNBLOCK", &d.id.to_string(), how]),
            0,
            "{how}"
        );
        let _: () = q(&mut con, &["fsl.push", "k", "1"]);
        assert_eq!(d.wait().unwrap(), Value::Int(1));
    }
}

#[test]
fn a_client_woken_on_the_wrong_type_blocks_again() {
    let (server, mut con) = server("blockonkeys");
    let d = deferred(&server, &["fsl.bpop", "k", "0"]);
    blocked(&server, 1);
    for v in ["12", "13", "14"] {
        let _: i64 = q(&mut con, &["LPUSH", "k", v]);
    }
    let _: () = q(&mut con, &["DEL", "k"]);
    let _: () = q(&mut con, &["fsl.push", "k", "34"]);
    assert_eq!(d.wait().unwrap(), Value::Int(34));
    assert_eq!(
        q::<i64>(&mut con, &["GET", "fsl_wrong_type"]),
        1,
        "the first LPUSH woke it once"
    );
}

#[test]
fn module_commands_block_on_native_lists_and_wake_native_blockers() {
    let (server, mut con) = server("blockonkeys");
    let d = deferred(&server, &["blockonkeys.popall", "k"]);
    blocked(&server, 1);
    let _: i64 = q(&mut con, &["LPUSH", "k", "42", "squirrel", "banana"]);
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(d.wait().unwrap()).unwrap(),
        ["banana", "squirrel", "42"]
    );

    let d = deferred(&server, &["BLPOP", "k", "10"]);
    blocked(&server, 1);
    let _: () = q(&mut con, &["blockonkeys.lpush", "k", "42"]);
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(d.wait().unwrap()).unwrap(),
        ["k", "42"]
    );

    let _: i64 = q(&mut con, &["LPUSH", "k", "aa"]);
    let d = deferred(&server, &["blockonkeys.blpopn", "k", "5"]);
    blocked(&server, 1);
    let _: () = q(&mut con, &["blockonkeys.lpush_unblock", "k", "bb", "cc"]); // not enough yet
    let _: i64 = q(&mut con, &["LPUSH", "k", "dd", "ee", "ff"]); // not signalled for the module
    let _: () = q(&mut con, &["blockonkeys.lpush_unblock", "k", "gg"]);
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(d.wait().unwrap()).unwrap(),
        ["gg", "ff", "ee", "dd", "cc"]
    );
    assert_eq!(
        deferred(&server, &["blockonkeys.popall", "missing"])
            .wait()
            .map_err(rmkit_tests::err_text),
        Err("ERR Timeout".to_owned()),
        "3 s without a push"
    );
}

#[test]
fn a_blocking_command_in_a_transaction_answers_at_once() {
    let (server, mut con) = server("blockonkeys");
    let _: () = q(&mut con, &["MULTI"]);
    let _: String = q(&mut con, &["fsl.bpop", "k", "0"]);
    let r = redis::cmd("EXEC").query::<Value>(&mut con);
    let text = format!("{r:?}");
    assert!(
        text.contains("not possible inside MULTI/EXEC"),
        "EXEC replied {text}"
    );
    assert_eq!(server.info_u64("clients", "blocked_clients"), 0);
    let _: () = q(&mut con, &["fsl.push", "k", "1"]);
    assert_eq!(ints(&mut con, &["fsl.getall", "k"]), [1]);
}

#[test]
fn a_served_blocked_pop_replicates_what_it_did() {
    let (primary, mut con) = server("blockonkeys");
    let replica = Server::builder()
        .module("conformance-blockonkeys")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let d = deferred(&primary, &["fsl.bpop", "k", "0"]);
    blocked(&primary, 1);
    let _: () = q(&mut con, &["fsl.push", "k", "34"]);
    let _: () = q(&mut con, &["fsl.push", "k", "35"]);
    assert_eq!(d.wait().unwrap(), Value::Int(34));
    replica.wait_caught_up_with(&primary);
    assert_eq!(ints(&mut replica.client(), &["fsl.getall", "k"]), [35]);
    assert_eq!(ints(&mut con, &["fsl.getall", "k"]), [35]);
}

// ---- datatype.tcl -----------------------------------------------------------------------

fn dt(con: &mut Connection, key: &str) -> Option<(i64, String)> {
    q(con, &["datatype.get", key])
}

#[test]
fn a_data_type_dumps_restores_swaps_and_copies_with_key_names() {
    let (_s, mut con) = server("datatype");
    let _: () = q(&mut con, &["datatype.set", "dtkey", "100", "stringval"]);
    assert_eq!(dt(&mut con, "dtkey"), Some((100, "stringval".into())));
    assert_eq!(dt(&mut con, "missing"), None);

    let _: () = q(&mut con, &["datatype.set", "dtkey", "-1111", "MyString"]);
    let encoded: Vec<u8> = q(&mut con, &["datatype.dump", "dtkey"]);
    let restored: i64 = redis::cmd("datatype.restore")
        .arg("dtkeycopy")
        .arg(&encoded)
        .arg(4)
        .query(&mut con)
        .unwrap();
    assert_eq!(restored, 4, "the load saw the encoding version asked for");
    assert_eq!(dt(&mut con, "dtkeycopy"), Some((-1111, "MyString".into())));
    let truncated = redis::cmd("datatype.restore")
        .arg("dtkeycopy2")
        .arg(&encoded[..encoded.len() - 1])
        .arg(4)
        .query::<Value>(&mut con);
    assert_eq!(
        rmkit_tests::err_text(truncated.unwrap_err()),
        "Invalid data"
    );
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "dtkeycopy2"]), 0);

    let _: () = q(&mut con, &["datatype.set", "key-a", "1", "AAA"]);
    let _: () = q(
        &mut con,
        &[
            "datatype.set",
            "key-b",
            "2",
            "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        ],
    );
    let usage = |con: &mut Connection, k: &str| -> i64 { q(con, &["MEMORY", "USAGE", k]) };
    let (ua, ub) = (usage(&mut con, "key-a"), usage(&mut con, "key-b"));
    assert_ne!(ua, ub);
    assert_eq!(
        q::<String>(&mut con, &["datatype.swap", "key-a", "key-b"]),
        "OK"
    );
    assert_eq!(
        dt(&mut con, "key-a"),
        Some((
            2,
            "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB".into()
        ))
    );
    assert_eq!(dt(&mut con, "key-b"), Some((1, "AAA".into())));
    assert_eq!(
        (usage(&mut con, "key-a"), usage(&mut con, "key-b")),
        (ub, ua),
        "the measured sizes moved with the values"
    );
    let _: () = q(&mut con, &["SET", "key-b", "RedisString"]);
    assert!(q_err(&mut con, &["datatype.swap", "key-a", "key-b"]).starts_with("ERR"));
    assert_eq!(
        q::<String>(&mut con, &["GET", "key-b"]),
        "RedisString",
        "a failed swap changes nothing"
    );

    let _: () = q(
        &mut con,
        &["datatype.set", "answer-to-universe", "42", "AAA"],
    );
    assert!(
        q_err(&mut con, &["COPY", "answer-to-universe", "answer2"])
            .contains("module key failed to copy")
    );
    let _: () = q(&mut con, &["datatype.set", "sourcekey", "1234", "AAA"]);
    assert_eq!(q::<i64>(&mut con, &["COPY", "sourcekey", "targetkey"]), 1);
    assert_eq!(
        dt(&mut con, "targetkey"),
        Some((1234, "AAA/sourcekey/targetkey".into()))
    );
}

#[test]
fn a_slow_load_yields_so_clients_get_loading_errors_instead_of_waiting() {
    let (server, mut con) = server("datatype");
    let _: () = q(&mut con, &["datatype.set", "dtkey", "1", "x"]);
    let _: () = q(&mut con, &["CONFIG", "SET", "busy-reply-threshold", "5000"]);
    let _: () = q(&mut con, &["datatype.slow_loading", "1"]);
    let reload = deferred(&server, &["DEBUG", "RELOAD"]);
    server.wait_for(
        "the load to wait inside the module",
        Duration::from_secs(10),
        |_| q::<i64>(&mut server.client(), &["datatype.is_in_slow_loading"]) == 1,
    );
    let ping = redis::cmd("PING").query::<String>(&mut con);
    let e = rmkit_tests::err_text(ping.expect_err("PING while loading"));
    assert!(e.starts_with("LOADING"), "{e}");
    let _: () = q(&mut con, &["datatype.slow_loading", "0"]);
    assert_eq!(reload.wait().unwrap(), Value::Okay);
    server.wait_for("loading to end", Duration::from_secs(10), |s| {
        s.info_u64("persistence", "loading") == 0
    });
    assert_eq!(dt(&mut con, "dtkey"), Some((1, "x".into())));
}

// ---- keyspecs.tcl -----------------------------------------------------------------------

/// A reply written as a Tcl list, as Redis's Tcl tests compare them: elements with spaces
/// (nested lists, strings) in braces.
fn tcl(v: &Value) -> String {
    fn element(v: &Value) -> String {
        let s = tcl(v);
        // Tcl braces an element only when it has to (a one-word list is that word).
        if s.contains(' ') || s.is_empty() {
            format!("{{{s}}}")
        } else {
            s
        }
    }
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Array(items) | Value::Set(items) => {
            items.iter().map(element).collect::<Vec<_>>().join(" ")
        }
        Value::Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [element(k), element(v)])
            .collect::<Vec<_>>()
            .join(" "),
        other => format!("{other:?}"),
    }
}

/// `COMMAND INFO name`: (flags, first, last, step, key specs), each key spec as a Tcl list.
fn command_info(con: &mut Connection, name: &str) -> (String, (i64, i64, i64), Vec<String>) {
    let reply: Vec<Value> = q(con, &["COMMAND", "INFO", name]);
    let Value::Array(info) = &reply[0] else {
        panic!("COMMAND INFO {name}: {reply:?}")
    };
    let int = |v: &Value| match v {
        Value::Int(i) => *i,
        other => panic!("{other:?}"),
    };
    let specs = match &info[8] {
        Value::Array(specs) => specs.iter().map(tcl).collect(),
        other => panic!("key specs of {name}: {other:?}"),
    };
    (
        tcl(&info[2]),
        (int(&info[3]), int(&info[4]), int(&info[5])),
        specs,
    )
}

/// One command of the keyspecs module: its name, COMMAND INFO flags, legacy range and key
/// specs, then a command line and the keys COMMAND GETKEYS finds in it.
type KeySpecCase<'a> = (
    &'a str,
    &'a str,
    (i64, i64, i64),
    Vec<String>,
    &'a [&'a str],
    &'a [&'a str],
);

#[test]
fn key_specs_and_legacy_ranges_are_what_redis_reports() {
    let (_s, mut con) = server("keyspecs");
    let index = |i: i32| format!("begin_search {{type index spec {{index {i}}}}}");
    let one = "find_keys {type range spec {lastkey 0 keystep 1 limit 0}}";
    let to_end = "find_keys {type range spec {lastkey -1 keystep 1 limit 0}}";
    let keynum = "find_keys {type keynum spec {keynumidx 0 firstkey 1 keystep 1}}";
    let keyword = |k: &str, from: i32| {
        format!("begin_search {{type keyword spec {{keyword {k} startfrom {from}}}}}")
    };

    let cases: Vec<KeySpecCase> = vec![
        (
            "kspec.none",
            "module",
            (1, -1, 2),
            vec![format!(
                "flags {{RW access update}} {} find_keys {{type range spec {{lastkey -1 keystep 2 limit 0}}}}",
                index(1)
            )],
            &["key1", "val1", "key2", "val2"],
            &["key1", "key2"],
        ),
        (
            "kspec.nonewithgetkeys",
            "module movablekeys",
            (1, -1, 2),
            vec![format!(
                "flags {{RW access update variable_flags}} {} find_keys {{type range spec {{lastkey -1 keystep 2 limit 0}}}}",
                index(1)
            )],
            &["key1", "val1", "key2", "val2"],
            &["key1", "key2"],
        ),
        (
            "kspec.tworanges",
            "module",
            (1, 2, 1),
            vec![
                format!("flags {{RO access}} {} {one}", index(1)),
                format!("flags {{RW update}} {} {one}", index(2)),
            ],
            &["foo", "bar", "baz", "quux"],
            &["foo", "bar"],
        ),
        (
            "kspec.tworangeswithgap",
            "module movablekeys",
            (1, 1, 1),
            vec![
                format!("flags {{RO access}} {} {one}", index(1)),
                format!("flags {{RW update}} {} {one}", index(3)),
            ],
            &["foo", "bar", "baz", "quux"],
            &["foo", "baz"],
        ),
        (
            "kspec.keyword",
            "module movablekeys",
            (0, 0, 0),
            vec![format!(
                "flags {{RO access}} {} {to_end}",
                keyword("KEYS", 1)
            )],
            &["foo", "KEYS", "bar", "baz"],
            &["bar", "baz"],
        ),
        (
            "kspec.complex1",
            "module movablekeys",
            (1, 1, 1),
            vec![
                format!("flags RO {} {one}", index(1)),
                format!("flags {{RW update}} {} {one}", keyword("STORE", 2)),
                format!("flags {{RO access}} {} {keynum}", keyword("KEYS", 2)),
            ],
            &["foo", "dummy", "KEYS", "1", "bar", "baz", "STORE", "quux"],
            &["foo", "quux", "bar"],
        ),
        (
            "kspec.complex2",
            "module movablekeys",
            (1, 2, 1),
            vec![
                format!("flags {{RW update}} {} {one}", keyword("STORE", 5)),
                format!("flags {{RO access}} {} {one}", index(1)),
                format!("flags {{RO access}} {} {one}", index(2)),
                format!("flags {{RW update}} {} {keynum}", index(3)),
                format!("flags {{RW update}} {} {to_end}", keyword("MOREKEYS", 5)),
            ],
            &[
                "foo", "bar", "2", "baz", "quux", "banana", "STORE", "dst", "dummy", "MOREKEYS",
                "hey", "ho",
            ],
            &["dst", "foo", "bar", "baz", "quux", "hey", "ho"],
        ),
    ];
    for (name, flags, triple, specs, line, keys) in cases {
        let (f, t, s) = command_info(&mut con, name);
        assert_eq!(
            (f.as_str(), t),
            (flags, triple),
            "{name}: flags and legacy range"
        );
        assert_eq!(s, specs, "{name}: key specs");
        let mut args = vec!["COMMAND", "GETKEYS", name];
        args.extend_from_slice(line);
        assert_eq!(strings(&mut con, &args), keys, "COMMAND GETKEYS {name}");
    }

    let flagged =
        |con: &mut Connection, args: &[&str]| -> Vec<(String, Vec<String>)> { q(con, args) };
    let pairs = |keys: &[&str], flags: &str| -> Vec<(String, Vec<String>)> {
        keys.iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    flags.split(' ').map(str::to_owned).collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        flagged(
            &mut con,
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "kspec.none",
                "key1",
                "val1",
                "key2",
                "val2"
            ]
        ),
        pairs(&["key1", "key2"], "RW access update")
    );
    assert_eq!(
        flagged(
            &mut con,
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "kspec.nonewithgetkeys",
                "key1",
                "val1",
                "key2",
                "val2"
            ]
        ),
        pairs(&["key1", "key2"], "RO access")
    );
    assert_eq!(
        flagged(
            &mut con,
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "kspec.keyword",
                "keys",
                "key1",
                "key2",
                "key3"
            ]
        ),
        pairs(&["key1", "key2", "key3"], "RO access")
    );

    let _: () = q(
        &mut con,
        &[
            "ACL",
            "SETUSER",
            "testuser",
            "on",
            "nopass",
            "+@all",
            "%R~read*",
            "%W~write*",
            "%RW~rw*",
        ],
    );
    let dry = |con: &mut Connection, args: &[&str]| -> String {
        let mut full = vec!["ACL", "DRYRUN", "testuser"];
        full.extend_from_slice(args);
        q(con, &full)
    };
    let denied = |k: &str| format!("has no permissions to access the '{k}' key");
    assert_eq!(dry(&mut con, &["kspec.none", "rw", "val1"]), "OK");
    assert!(dry(&mut con, &["kspec.none", "read", "val1"]).ends_with(&denied("read")));
    assert!(dry(&mut con, &["kspec.none", "write", "val1"]).ends_with(&denied("write")));
    assert_eq!(dry(&mut con, &["kspec.tworanges", "read", "write"]), "OK");
    assert_eq!(dry(&mut con, &["kspec.tworanges", "rw", "rw"]), "OK");
    assert!(dry(&mut con, &["kspec.tworanges", "rw", "read"]).ends_with(&denied("read")));
    assert!(dry(&mut con, &["kspec.tworanges", "write", "rw"]).ends_with(&denied("write")));

    // Every command of the module, plus the allocator command every rmkit module has.
    let mut listed = strings(
        &mut con,
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "keyspecs"],
    );
    listed.sort();
    assert_eq!(
        listed,
        [
            "keyspecs.memory",
            "kspec.complex1",
            "kspec.complex2",
            "kspec.keyword",
            "kspec.none",
            "kspec.nonewithgetkeys",
            "kspec.tworanges",
            "kspec.tworangeswithgap"
        ]
    );
    unloads(&mut con, "keyspecs");
}

// ---- timer.tcl --------------------------------------------------------------------------

/// Timers fire (all 20 of a MULTI batch), report their key and remaining time while pending,
/// are gone once fired or stopped, and hold the module loaded while pending.
#[test]
fn timer_tcl() {
    let (server, mut con) = server("timer");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for _ in 0..20 {
        pipe.cmd("test.createtimer").arg(10).arg("timer-incr-key");
    }
    let _: Vec<i64> = pipe.query(&mut con).unwrap();
    server.wait_for("the 20 timers to fire", Duration::from_secs(10), |s| {
        q::<Option<i64>>(&mut s.client(), &["GET", "timer-incr-key"]) == Some(20)
    });

    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, &["test.gettimer", "0"]),
        None
    );
    let id: i64 = q(&mut con, &["test.createtimer", "10000", "timer-incr-key"]);
    let info: (String, i64) = q(&mut con, &["test.gettimer", &id.to_string()]);
    assert_eq!(info.0, "timer-incr-key");
    assert!(info.1 > 1 && info.1 < 10000, "remaining {}", info.1);
    assert_eq!(q::<i64>(&mut con, &["test.stoptimer", &id.to_string()]), 1);
    assert_eq!(q::<i64>(&mut con, &["test.stoptimer", &id.to_string()]), 0);
    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, &["test.gettimer", &id.to_string()]),
        None,
        "a stopped timer is gone"
    );

    let _: String = q(&mut con, &["SET", "timer-incr-key", "0"]);
    let id: i64 = q(&mut con, &["test.createtimer", "10", "timer-incr-key"]);
    server.wait_for("the timer to fire", Duration::from_secs(10), |s| {
        q::<i64>(&mut s.client(), &["GET", "timer-incr-key"]) == 1
    });
    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, &["test.gettimer", &id.to_string()]),
        None,
        "a fired timer is gone"
    );

    let id: i64 = q(&mut con, &["test.createtimer", "60000", "timer-incr-key"]);
    let e = q_err(&mut con, &["MODULE", "UNLOAD", "timer"]);
    assert!(
        e.contains("the module holds timer that is not fired"),
        "{e}"
    );
    assert_eq!(q::<i64>(&mut con, &["test.stoptimer", &id.to_string()]), 1);
    unloads(&mut con, "timer");
}

// ---- publish.tcl ------------------------------------------------------------------------

/// PUBLISH and SPUBLISH from a module reach their subscribers.
#[test]
fn publish_tcl() {
    let (server, mut con) = server("publish");
    let mut sub = server.client();
    let mut ssub = server.client();
    let r: Vec<redis::Value> = q(&mut sub, &["SUBSCRIBE", "chan1"]);
    assert_eq!(r.len(), 3);
    let r: Vec<redis::Value> = q(&mut ssub, &["SSUBSCRIBE", "chan1"]);
    assert_eq!(r.len(), 3);
    assert_eq!(q::<i64>(&mut con, &["publish.shard", "chan1", "hello"]), 1);
    assert_eq!(
        q::<i64>(&mut con, &["publish.classic", "chan1", "world"]),
        1
    );
    let read = |c: &mut Connection| -> Vec<String> {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        redis::from_redis_value(c.recv_response().unwrap()).unwrap()
    };
    assert_eq!(read(&mut ssub), ["smessage", "chan1", "hello"]);
    assert_eq!(read(&mut sub), ["message", "chan1", "world"]);
    unloads(&mut con, "publish");
}

// ---- subcommands.tcl --------------------------------------------------------------------

/// A container command with two subcommands, each with its key spec; arity errors name the
/// subcommand; the running command's full name.
#[test]
fn subcommands_tcl() {
    let (_server, mut con) = server("subcommands");
    let info: Vec<Value> = q(&mut con, &["COMMAND", "INFO", "subcommands.bitarray"]);
    let Value::Array(cmd) = &info[0] else {
        panic!("COMMAND INFO: {info:?}")
    };
    let Value::Array(subs) = &cmd[9] else {
        panic!("no subcommands in {cmd:?}")
    };
    let mut names: Vec<String> = subs
        .iter()
        .map(|s| match s {
            Value::Array(v) => redis::from_redis_value(v[0].clone()).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["subcommands.bitarray|get", "subcommands.bitarray|set"]
    );

    let e = q_err(&mut con, &["subcommands.bitarray"]);
    assert!(
        e.ends_with("wrong number of arguments for 'subcommands.bitarray' command"),
        "{e}"
    );
    assert_eq!(
        q::<String>(&mut con, &["subcommands.bitarray", "get", "k1"]),
        "OK"
    );
    let e = q_err(&mut con, &["subcommands.bitarray", "get", "k1", "8", "90"]);
    assert!(
        e.ends_with("wrong number of arguments for 'subcommands.bitarray|get' command"),
        "{e}"
    );
    assert_eq!(
        q::<String>(&mut con, &["subcommands.parent_get_fullname"]),
        "subcommands.parent_get_fullname"
    );
    assert_eq!(
        q::<String>(&mut con, &["subcommands.sub", "get_fullname"]),
        "subcommands.sub|get_fullname"
    );
    let listed = strings(
        &mut con,
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "subcommands"],
    );
    for c in [
        "subcommands.bitarray",
        "subcommands.bitarray|set",
        "subcommands.parent_get_fullname",
        "subcommands.sub|get_fullname",
    ] {
        assert!(listed.iter().any(|l| l == c), "{c} in {listed:?}");
    }
    unloads(&mut con, "subcommands");
}

// ---- reply.tcl --------------------------------------------------------------------------

/// Sends one command on a raw connection and reads exactly the expected bytes.
fn raw_exchange(s: &mut std::net::TcpStream, args: &[&str], want: &str) {
    use std::io::{Read, Write};
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    s.write_all(&out).unwrap();
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), want, "{args:?}");
}

/// Every reply type of the `replywith` module, byte for byte in RESP2 and in RESP3.
#[test]
fn reply_tcl() {
    let (server, mut con) = server("reply");
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let resp2: &[(&[&str], &str)] = &[
        (&["rw.string", "Redis"], "$5\r\nRedis\r\n"),
        (&["rw.cstring"], "+A simple string\r\n"),
        (
            &["rw.bignumber", "123456778901234567890"],
            "$21\r\n123456778901234567890\r\n",
        ),
        (&["rw.int", "42"], ":42\r\n"),
        (&["rw.double", "3.141"], "$5\r\n3.141\r\n"),
        (
            &["rw.longdouble", "0.00000000000000001"],
            "$19\r\n0.00000000000000001\r\n",
        ),
        (&["rw.verbatim", "bla"], "$3\r\nbla\r\n"),
        (&["rw.array", "2"], "*2\r\n:0\r\n:1\r\n"),
        (
            &["rw.map", "2"],
            "*4\r\n:0\r\n$1\r\n0\r\n:1\r\n$3\r\n1.5\r\n",
        ),
        (&["rw.set", "2"], "*2\r\n:0\r\n:1\r\n"),
        (
            &["rw.attribute", "1"],
            "-Attributes aren't supported by RESP 2\r\n",
        ),
        (&["rw.bool"], "*2\r\n:0\r\n:1\r\n"),
        (&["rw.null"], "$-1\r\n"),
        (&["rw.error"], "-An error\r\n"),
    ];
    for (args, want) in resp2 {
        raw_exchange(&mut s, args, want);
    }
    // To RESP3: HELLO's map is skipped up to the +PONG of a PING after it.
    use std::io::{Read, Write};
    s.write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut b = [0u8];
    while !seen.ends_with(b"+PONG\r\n") {
        s.read_exact(&mut b).unwrap();
        seen.push(b[0]);
    }
    let resp3: &[(&[&str], &str)] = &[
        (
            &["rw.bignumber", "123456778901234567890"],
            "(123456778901234567890\r\n",
        ),
        (&["rw.double", "3.141"], ",3.141\r\n"),
        (&["rw.verbatim", "bla"], "=7\r\ntxt:bla\r\n"),
        (&["rw.map", "2"], "%2\r\n:0\r\n,0\r\n:1\r\n,1.5\r\n"),
        (&["rw.set", "2"], "~2\r\n:0\r\n:1\r\n"),
        (
            &["rw.attribute", "2"],
            "|2\r\n:0\r\n,0\r\n:1\r\n,1.5\r\n+OK\r\n",
        ),
        (&["rw.bool"], "*2\r\n#f\r\n#t\r\n"),
        (&["rw.null"], "_\r\n"),
        (&["rw.error"], "-An error\r\n"),
    ];
    for (args, want) in resp3 {
        raw_exchange(&mut s, args, want);
    }
    // A client whose last command was the module's holds the unload off (see rmkit's unload
    // policy): the raw connection runs PING last.
    raw_exchange(&mut s, &["PING"], "+PONG\r\n");
    unloads(&mut con, "replywith");
}

// ---- mallocsize.tcl ---------------------------------------------------------------------

/// MEMORY USAGE of a module value counts the bytes it holds (raw bytes, a string, a dict),
/// measured by the toolkit rather than added up by hand; and it is what deleting it frees.
#[test]
fn mallocsize_tcl() {
    let (_server, mut con) = server("mallocsize");
    let usage = |con: &mut Connection, key: &str| -> i64 { q(con, &["MEMORY", "USAGE", key]) };
    assert_eq!(
        q::<String>(&mut con, &["mallocsize.setraw", "key", "40"]),
        "OK"
    );
    assert!(usage(&mut con, "key") > 40);
    assert_eq!(
        q::<String>(&mut con, &["mallocsize.setraw", "big", "100000"]),
        "OK"
    );
    let big = usage(&mut con, "big");
    // The allocator's size class for 100000 bytes (jemalloc: 114688) plus the key's overhead.
    assert!(
        (100_000..=131_072 + 512).contains(&big),
        "MEMORY USAGE {big} for 100000 bytes"
    );
    assert_eq!(
        q::<String>(&mut con, &["mallocsize.setstr", "key", "abcdefg"]),
        "OK"
    );
    assert!(usage(&mut con, "key") > 7);
    let _: String = q(
        &mut con,
        &["mallocsize.setdict", "key", "f1", "v1", "f2", "v2"],
    );
    assert!(usage(&mut con, "key") > 8);
    assert_eq!(q::<String>(&mut con, &["TYPE", "key"]), "allocsize");
}

// ---- blockonbackground.tcl --------------------------------------------------------------

/// `usec=` of `INFO commandstats` for `cmd`.
fn command_usec(con: &mut Connection, cmd: &str) -> u64 {
    let info: String = q(con, &["INFO", "commandstats"]);
    let line = info
        .lines()
        .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
        .unwrap_or_else(|| panic!("no cmdstat_{cmd} in {info}"));
    // cmdstat_<cmd>:calls=1,usec=...,usec_per_call=...
    line.split(',')
        .find_map(|f| f.strip_prefix("usec="))
        .unwrap_or_else(|| panic!("no usec= in {line}"))
        .parse()
        .unwrap()
}

/// A thread's measured time counts as the blocked command's (commandstats, slowlog), also up
/// to a timeout; unmeasured time does not; CLIENT UNBLOCK unblocks only a client blocked with a
/// timeout callback; a released client gets the releaser's reply.
#[test]
fn blockonbackground_tcl() {
    let (server, mut con) = server("blockonbackground");
    let _: String = q(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "200000"],
    );
    let _: String = q(&mut con, &["SLOWLOG", "RESET"]);
    let _: i64 = q(&mut con, &["block.debug", "0", "10000"]);
    assert_eq!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]), 0);
    let _: String = q(&mut con, &["CONFIG", "RESETSTAT"]);
    let _: i64 = q(&mut con, &["block.debug", "250", "10000"]);
    assert_eq!(
        q::<i64>(&mut con, &["SLOWLOG", "LEN"]),
        1,
        "250 ms of thread time is slow"
    );
    assert!(command_usec(&mut con, "block.debug") >= 250_000);

    let _: String = q(&mut con, &["SLOWLOG", "RESET"]);
    let _: String = q(&mut con, &["CONFIG", "RESETSTAT"]);
    let r: String = q(&mut con, &["block.debug", "20000", "300"]);
    assert_eq!(r, "Request timedout");
    assert_eq!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]), 1);
    assert!(
        command_usec(&mut con, "block.debug") >= 250_000,
        "time up to the timeout counts"
    );

    let _: String = q(&mut con, &["SLOWLOG", "RESET"]);
    let _: String = q(&mut con, &["CONFIG", "RESETSTAT"]);
    let _: i64 = q(&mut con, &["block.double_debug", "150"]);
    assert_eq!(q::<i64>(&mut con, &["SLOWLOG", "LEN"]), 1);
    assert!(
        command_usec(&mut con, "block.double_debug") >= 300_000,
        "both sleeps count"
    );

    let _: String = q(&mut con, &["SLOWLOG", "RESET"]);
    let _: i64 = q(&mut con, &["block.debug_no_track", "250", "10000"]);
    assert_eq!(
        q::<i64>(&mut con, &["SLOWLOG", "LEN"]),
        0,
        "unmeasured time is not counted"
    );

    // CLIENT UNBLOCK: only with a timeout callback.
    let addr = server.url();
    let mut waiter = redis::Client::open(addr).unwrap().get_connection().unwrap();
    let id: i64 = q(&mut waiter, &["CLIENT", "ID"]);
    let t = std::thread::spawn(move || {
        let a: String = q(&mut waiter, &["block.block", "20000"]);
        let b: String = q(&mut waiter, &["block.block", "0"]);
        (a, b)
    });
    server.wait_for("block.block to block", Duration::from_secs(10), |s| {
        q::<i64>(&mut s.client(), &["block.is_blocked"]) == 1
    });
    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "UNBLOCK", &id.to_string()]),
        1
    );
    server.wait_for(
        "the second block.block to block",
        Duration::from_secs(10),
        |s| {
            let mut c = s.client();
            q::<i64>(&mut c, &["block.is_blocked"]) == 1
                && q::<String>(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()])
                    .contains("cmd=block.block")
                && q::<String>(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()])
                    .contains("flags=b")
        },
    );
    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "UNBLOCK", &id.to_string()]),
        0
    );
    assert_eq!(q::<String>(&mut con, &["block.release", "foobar"]), "OK");
    let (a, b) = t.join().unwrap();
    assert_eq!(a, "Timed out");
    assert_eq!(b, "foobar");
    assert!(q_err(&mut con, &["block.release", "x"]).contains("No blocked client"));
}

// ---- blockedclient.tcl ------------------------------------------------------------------

/// The server lock on worker threads, RM_Call from a blocked client's thread, blocking refused
/// where Redis cannot block (MULTI, a command called by RM_Call — a crash otherwise), and a
/// slow command yielding to clients.
#[test]
fn blockedclient_tcl() {
    let (server, mut con) = server("blockedclient");
    assert_eq!(q::<String>(&mut con, &["acquire_gil"]), "OK");
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("acquire_gil");
    let r: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(r, ["Blocked client is not supported inside multi"]);
    assert_eq!(
        q::<String>(&mut con, &["do_rm_call", "acquire_gil"]),
        "Blocked client is not allowed"
    );
    assert_eq!(
        q::<String>(&mut con, &["do_rm_call", "do_fake_bg_true"]),
        "Blocked client is not allowed"
    );
    let _: i64 = q(&mut con, &["LPUSH", "l", "test"]);
    assert_eq!(
        strings(&mut con, &["do_rm_call", "blpop", "l", "0"]),
        ["l", "test"]
    );
    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, &["do_rm_call", "blpop", "empty", "0"]),
        None,
        "a blocking command called by a module does not block"
    );
    let e = q_err(&mut con, &["do_rm_call", "monitor"]);
    assert!(e.contains("DENY BLOCKING"), "{e}");

    let _: i64 = q(&mut con, &["HSET", "hash", "foo", "bar"]);
    assert_eq!(
        strings(&mut con, &["do_bg_rm_call", "hgetall", "hash"]),
        ["foo", "bar"]
    );
    assert_eq!(
        q::<i64>(
            &mut con,
            &["do_bg_rm_call_format", "S", "hset", "k", "foo", "bar"]
        ),
        1
    );
    assert_eq!(
        q_err(&mut con, &["do_bg_rm_call", "hgetalllll"]),
        "NULL reply returned"
    );
    let _: String = q(&mut con, &["SET", "x", "x"]);
    assert!(q_err(&mut con, &["do_bg_rm_call", "hgetall", "x"]).starts_with("WRONGTYPE"));
    assert!(q::<bool>(&mut con, &["do_fake_bg_true"]));

    // A slow command yields: others get -BUSY with its text until it is stopped.
    let _: String = q(&mut con, &["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let url = server.url();
    let slow = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        q::<i64>(&mut c, &["slow_fg_command", "0"])
    });
    server.wait_for(
        "-BUSY from the slow command",
        Duration::from_secs(10),
        |_| match redis::cmd("PING").query::<String>(&mut con) {
            Err(e) => {
                let text = rmkit_tests::err_text(e);
                assert!(text.contains("BUSY Slow module operation"), "{text}");
                true
            }
            Ok(_) => false,
        },
    );
    assert_eq!(q::<i64>(&mut con, &["stop_slow_fg_command"]), 1);
    assert_eq!(slow.join().unwrap(), 1);
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
    let _: String = q(&mut con, &["CONFIG", "SET", "busy-reply-threshold", "5000"]);
    unloads(&mut con, "blockedclient");
}

// ---- cmdintrospection.tcl ---------------------------------------------------------------

/// The values of a RESP map (or flat key/value array) reply, by key.
fn as_map(v: &Value) -> Vec<(String, Value)> {
    let items: Vec<(Value, Value)> = match v {
        Value::Map(m) => m.clone(),
        Value::Array(a) => a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
        other => panic!("not a map: {other:?}"),
    };
    items
        .into_iter()
        .map(|(k, v)| (redis::from_redis_value(k).unwrap(), v))
        .collect()
}

/// A module command declared like XADD shows XADD's COMMAND INFO and COMMAND DOCS (but for
/// ACL categories, the `module` flag and the group): arity, flags, tips, key specs with notes,
/// arguments with tokens, `since`, blocks and choices, and the history.
#[test]
fn cmdintrospection_tcl() {
    let (server, mut con) = server("cmdintrospection");
    let info = |con: &mut Connection, cmd: &str| -> Vec<Value> {
        let r: Vec<Value> = q(con, &["COMMAND", "INFO", cmd]);
        match &r[0] {
            Value::Array(a) => a.clone(),
            other => panic!("{other:?}"),
        }
    };
    let redis_info = info(&mut con, "xadd");
    let module_info = info(&mut con, "cmdintrospection.xadd");
    for i in 1..redis_info.len() {
        if i == 6 {
            continue; // ACL categories
        }
        let mut m = module_info[i].clone();
        if i == 2 {
            if let Value::Array(flags) = &mut m {
                flags.retain(|f| f != &Value::SimpleString("module".into()));
            }
        }
        assert_eq!(m, redis_info[i], "COMMAND INFO element {i}");
    }
    let docs = |con: &mut Connection, cmd: &str| -> Vec<(String, Value)> {
        let r: Vec<Value> = q(con, &["COMMAND", "DOCS", cmd]);
        let mut d = as_map(&r[1]);
        d.retain(|(k, _)| k != "group" && k != "module");
        d.sort_by(|a, b| a.0.cmp(&b.0));
        d
    };
    let (ours, theirs) = (
        docs(&mut con, "cmdintrospection.xadd"),
        docs(&mut con, "xadd"),
    );
    if server.info("server").contains_key("valkey_version") {
        // Valkey renamed some of XADD's arguments and reworded its summary; the port follows
        // Redis 7.0. What did not change must still match.
        let pick = |d: &[(String, Value)], k: &str| d.iter().find(|(n, _)| n == k).cloned();
        for k in ["since", "complexity", "history"] {
            assert_eq!(pick(&ours, k), pick(&theirs, k), "COMMAND DOCS {k}");
        }
    } else {
        assert_eq!(ours, theirs);
    }
    unloads(&mut con, "cmdintrospection");
}

// ---- propagate.tcl ----------------------------------------------------------------------

/// What a module writes from timers, threads (blocked-client and detached contexts), nested
/// calls and plain commands reaches a replica: what it ran through calls exists on both; what
/// it only replicated (`RM_Replicate`) exists on the replica alone, as many times as sent.
#[test]
fn propagate_tcl() {
    let node = || {
        Server::builder()
            .module("conformance-propagate")
            .module("conformance-keyspace_events")
    };
    let primary = node().start();
    let replica = node().replica_of(&primary).start();
    replica.wait_for_sync();
    let mut con = primary.client();
    let mut rcon = replica.client();

    let _: String = q(&mut con, &["propagate-test.timer"]);
    replica.wait_for(
        "the three timers to replicate",
        Duration::from_secs(10),
        |s| q::<Option<i64>>(&mut s.client(), &["GET", "timer"]) == Some(3),
    );
    let _: String = q(&mut con, &["propagate-test.thread"]);
    let _: String = q(&mut con, &["propagate-test.detached-thread"]);
    primary.wait_for("the threads' writes", Duration::from_secs(10), |s| {
        let mut c = s.client();
        q::<Option<i64>>(&mut c, &["GET", "thread-call"]) == Some(3)
            && q::<Option<i64>>(&mut c, &["GET", "thread-detached-2"]) == Some(1)
    });
    let _: String = q(&mut con, &["propagate-test.simple"]);
    let _: String = q(&mut con, &["propagate-test.mixed"]);
    let _: String = q(&mut con, &["propagate-test.nested"]);
    assert_eq!(q::<i64>(&mut con, &["propagate-test.incr", "n"]), 1);
    let _: String = q(&mut con, &["propagate-test.timer-eval"]);
    primary.wait_for("the EVAL timer", Duration::from_secs(10), |s| {
        q::<Option<i64>>(&mut s.client(), &["GET", "timer-eval-end"]) == Some(1)
    });
    replica.wait_caught_up_with(&primary);

    let get = |c: &mut Connection, k: &str| q::<Option<String>>(c, &["GET", k]);
    // Run through calls (`!`): on both.
    for (key, want) in [
        ("thread-call", "3"),
        ("thread-detached-1", "1"),
        ("thread-detached-2", "1"),
        ("using-call", "2"),
        ("after-call", "2"),
        ("before-call-2", "1"),
        ("after-call-2", "1"),
        ("n", "1"),
        ("foo", "bar"),
        ("timer-eval-start", "1"),
        ("timer-eval-end", "1"),
    ] {
        assert_eq!(
            get(&mut con, key).as_deref(),
            Some(want),
            "{key} on the primary"
        );
        assert_eq!(
            get(&mut rcon, key).as_deref(),
            Some(want),
            "{key} on the replica"
        );
    }
    // Replicated only: on the replica alone.
    for (key, want) in [
        ("timer", "3"),
        ("a-from-thread", "3"),
        ("b-from-thread", "3"),
        ("thread-detached-before", "1"),
        ("thread-detached-after", "1"),
        ("counter-1", "3"),
        ("counter-2", "3"),
        ("counter-3", "1"),
        ("counter-4", "1"),
        ("timer-eval-middle", "1"),
    ] {
        assert_eq!(get(&mut con, key), None, "{key} is not on the primary");
        assert_eq!(
            get(&mut rcon, key).as_deref(),
            Some(want),
            "{key} on the replica"
        );
    }
    assert_eq!(
        get(&mut rcon, "asdf"),
        None,
        "INCR then DEL of asdf, replicated in order"
    );
    assert!(
        q::<i64>(&mut con, &["GET", "notifications"]) > 0,
        "notifications counted"
    );
    unloads(&mut con, "propagate-test");
}

// ---- misc.tcl ---------------------------------------------------------------------------

/// Calls with and without flags, the database, LRU/LFU clocks, the client's info and name, the
/// server version, unsigned conversions, monotonic time.
#[test]
fn misc_tcl() {
    let (server, mut con) = server("misc");
    let info: String = q(&mut con, &["test.call_info", "commandstats"]);
    // Not a default section: the argument reached INFO.
    assert!(info.contains("# Commandstats"), "{info}");
    assert_eq!(q::<String>(&mut con, &["test.ull_conversion"]), "ok");

    let _: String = q(&mut con, &["SET", "x", "foo"]);
    assert_eq!(q::<String>(&mut con, &["test.randomkey"]), "x");
    assert_eq!(q::<i64>(&mut con, &["test.dbsize"]), 1);
    assert!(q::<bool>(&mut con, &["test.keyexists", "x"]));
    assert!(!q::<bool>(&mut con, &["test.keyexists", "nope"]));

    let _: String = q(
        &mut con,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    );
    assert_eq!(q::<i64>(&mut con, &["test.setlru", "x", "100000"]), 1);
    assert!(q::<i64>(&mut con, &["OBJECT", "IDLETIME", "x"]) >= 100);
    assert!(q::<i64>(&mut con, &["test.getlru", "x"]) >= 100_000);
    assert_eq!(q::<i64>(&mut con, &["test.getlfu", "x"]), -1, "not LFU");
    let _: String = q(
        &mut con,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    assert_eq!(q::<i64>(&mut con, &["test.getlru", "x"]), -1, "not LRU");
    assert_eq!(q::<i64>(&mut con, &["test.setlfu", "x", "100"]), 1);
    assert!(q::<i64>(&mut con, &["OBJECT", "FREQ", "x"]) <= 100);
    let _: String = q(
        &mut con,
        &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    );

    let ci: Vec<Value> = q(&mut con, &["test.clientinfo"]);
    let ci = as_map(&Value::Array(ci));
    let field = |k: &str| ci.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(
        redis::from_redis_value::<String>(field("flags")).unwrap(),
        ":::::"
    );
    assert_eq!(redis::from_redis_value::<i64>(field("db")).unwrap(), 0);
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    assert_eq!(redis::from_redis_value::<i64>(field("id")).unwrap(), id);

    assert_eq!(q_err(&mut con, &["test.getname"]), "-ERR No name");
    let _: String = q(&mut con, &["CLIENT", "SETNAME", "nobody"]);
    assert!(q_err(&mut con, &["test.setname", "name with spaces"]).contains("Invalid argument"));
    assert_eq!(q::<String>(&mut con, &["test.getname"]), "nobody");
    let _: String = q(&mut con, &["test.setname", "somebody"]);
    assert_eq!(q::<String>(&mut con, &["CLIENT", "GETNAME"]), "somebody");
    assert_eq!(
        q::<Option<String>>(&mut con, &["test.getclientcert"]),
        None,
        "no TLS here"
    );

    let sinfo = server.info("server");
    let version = sinfo
        .get("valkey_version")
        .or(sinfo.get("redis_version"))
        .unwrap();
    assert_eq!(&q::<String>(&mut con, &["test.redisversion"]), version);
    let t0: i64 = q(&mut con, &["test.monotonic_time"]);
    assert!(q::<i64>(&mut con, &["test.monotonic_time"]) >= t0);

    let e = q_err(&mut con, &["test.rm_call_flags", "W", "set", "x", "1"]);
    assert!(e.contains("write is not allowed"), "{e}");
    let _: String = q(&mut con, &["CONFIG", "SET", "maxmemory", "1"]);
    assert!(q_err(&mut con, &["test.rm_call_flags", "M", "set", "x", "1"]).starts_with("OOM"));
    assert_eq!(
        q::<String>(&mut con, &["test.rm_call", "set", "x", "1"]),
        "OK",
        "no M: no OOM check"
    );
    let _: String = q(&mut con, &["CONFIG", "SET", "maxmemory", "0"]);
    let _: String = q(&mut con, &["test.flushall"]);
    assert_eq!(q::<i64>(&mut con, &["test.dbsize"]), 0);
    unloads(&mut con, "misc");
}

// ---- testrdb.tcl ------------------------------------------------------------------------

/// A data type through DEBUG RELOAD; module-wide values through SAVE and a restart as aux data
/// at the points the module's argument asks for, lost without aux; the async-load option shown.
#[test]
fn testrdb_tcl() {
    let mut s = Server::builder().module("conformance-testrdb").start();
    let mut con = s.client();
    assert_eq!(
        q::<i64>(&mut con, &["testrdb.set.key", "key1", "value1"]),
        1
    );
    let _: String = q(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(
        q::<String>(&mut con, &["testrdb.get.key", "key1"]),
        "value1"
    );
    let modules: String = q(&mut con, &["INFO", "modules"]);
    assert!(modules.contains("handle-repl-async-load"), "{modules}");
    let _: i64 = q(&mut con, &["testrdb.set.before", "global1"]);
    let _: String = q(&mut con, &["SAVE"]);
    s.restart();
    let mut con = s.client();
    assert_eq!(
        q::<String>(&mut con, &["testrdb.get.before"]),
        "",
        "without aux: lost"
    );

    for (arg, before, after) in [("2", "global1", "global2"), ("1", "", "global2")] {
        let mut s = Server::builder()
            .module_with_args("conformance-testrdb", &[arg])
            .start();
        let mut con = s.client();
        let _: i64 = q(&mut con, &["testrdb.set.before", "global1"]);
        let _: i64 = q(&mut con, &["testrdb.set.after", "global2"]);
        let _: String = q(&mut con, &["SAVE"]);
        s.restart();
        let mut con = s.client();
        assert_eq!(
            q::<String>(&mut con, &["testrdb.get.before"]),
            before,
            "argument {arg}"
        );
        assert_eq!(
            q::<String>(&mut con, &["testrdb.get.after"]),
            after,
            "argument {arg}"
        );
    }
}
