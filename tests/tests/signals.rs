//! Modified-key signals: a module command tells Redis a key changed (which aborts other
//! clients' `WATCH`ed transactions and sends client-side-caching invalidations) exactly when it
//! changed the key, like native commands: a `WRONGTYPE` error, an `NX` that does not set, a
//! delete or increment that matches nothing leave `WATCH` and caches alone.
//!
//! The toolkit sets `REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED` and signals when a write
//! went through a key, so this holds for every module built with it.

use redis::{Connection, Value};
use rmkit_tests::{Server, cmd, q};

/// Commands on key `k` that change nothing (the fixture below holds what they expect).
const NO_OPS: &[&[&str]] = &[
    &["JSON.DEL", "k", "$.nope"],
    &["JSON.SET", "k", "[1]", "NX"],
    &["JSON.NUMINCRBY", "k", "$.s", "1"],
    &["JSON.NUMINCRBY", "k", "$.nope", "1"],
    &["HGETSET", "k", "f", "v"],  // WRONGTYPE: k is a json document
    &["HMGETSET", "k", "f", "v"], // WRONGTYPE
    &["JSON.NUMINCRBY", "k", "$.n", "x"], // a bad increment
    &["JSON.SET", "k", "{bad"],   // invalid JSON
];

/// Commands on key `k` that change it.
const WRITES: &[&[&str]] = &[
    &["JSON.SET", "k", r#"{"n":2,"s":"x"}"#],
    &["JSON.NUMINCRBY", "k", "$.n", "1"],
    &["JSON.DEL", "k", "$.s"],
    &["JSON.DEL", "k"],
];

fn fixture(c: &mut Connection) {
    let _: () = q(c, &["DEL", "k"]);
    let _: () = q(c, &["JSON.SET", "k", r#"{"n":1,"s":"x"}"#]);
}

/// Whether a transaction `WATCH k ... EXEC` on `watcher` survives `other` running `args`.
fn exec_survives(watcher: &mut Connection, other: &mut Connection, args: &[&str]) -> bool {
    let _: () = q(watcher, &["WATCH", "k"]);
    let _ = cmd(args).query::<Value>(other); // the reply does not matter here
    let _: () = q(watcher, &["MULTI"]);
    let _: Value = q(watcher, &["SET", "marker", "1"]);
    let r: Value = q(watcher, &["EXEC"]);
    !matches!(r, Value::Nil)
}

#[test]
fn watch_is_aborted_by_module_writes_and_only_by_them() {
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .start();
    let (mut w, mut o) = (server.client(), server.client());
    for args in NO_OPS {
        fixture(&mut o);
        assert!(
            exec_survives(&mut w, &mut o, args),
            "{args:?} changed nothing but aborted a WATCHed transaction"
        );
    }
    for args in WRITES {
        fixture(&mut o);
        assert!(
            !exec_survives(&mut w, &mut o, args),
            "{args:?} changed the key but did not abort a WATCHed transaction"
        );
    }
    // A hash written by HGETSET (a new field, then an existing one).
    for value in ["1", "2"] {
        let _: () = q(&mut w, &["WATCH", "h"]);
        let _: Value = q(&mut o, &["HGETSET", "h", "f", value]);
        let _: () = q(&mut w, &["MULTI"]);
        let _: Value = q(&mut w, &["SET", "marker", "1"]);
        let r: Value = q(&mut w, &["EXEC"]);
        assert_eq!(r, Value::Nil, "HGETSET h f {value} must abort WATCH h");
    }
}

/// Reads the next invalidation pushed to `sub` (subscribed to `__redis__:invalidate`): the
/// keys it names.
fn next_invalidation(sub: &mut redis::PubSub<'_>) -> Vec<String> {
    let msg = sub
        .get_message()
        .expect("an invalidation message within the read timeout");
    let keys: Value = msg.get_payload().expect("a payload");
    match keys {
        Value::Array(v) => v
            .into_iter()
            .map(|k| match k {
                Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

#[test]
fn client_side_caches_are_invalidated_by_module_writes_and_only_by_them() {
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .start();
    let mut setup = server.client();
    let mut sub_con = server.client();
    let sub_id: i64 = q(&mut sub_con, &["CLIENT", "ID"]);
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("__redis__:invalidate").unwrap();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = server.client();
    let _: () = q(
        &mut reader,
        &["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id.to_string()],
    );
    let mut writer = server.client();
    let _: () = q(&mut setup, &["SET", "marker", "0"]);
    // Each round starts with k not tracked, so `fixture` invalidates nothing.
    for args in NO_OPS {
        fixture(&mut setup);
        // Track both keys, run the no-op on k, then change the marker: the first
        // invalidation must be the marker's (messages arrive in order).
        let _: Value = q(&mut reader, &["JSON.GET", "k"]);
        let _: Value = q(&mut reader, &["GET", "marker"]);
        let _ = cmd(args).query::<Value>(&mut writer);
        let _: () = q(&mut writer, &["SET", "marker", "1"]);
        assert_eq!(
            next_invalidation(&mut sub),
            ["marker"],
            "{args:?} changed nothing but invalidated the cache"
        );
        // k is still tracked: a real change invalidates it (and untracks it).
        let _: () = q(&mut setup, &["DEL", "k"]);
        assert_eq!(next_invalidation(&mut sub), ["k"]);
    }
    for args in WRITES {
        fixture(&mut setup);
        let _: Value = q(&mut reader, &["JSON.GET", "k"]);
        let _: Value = q(&mut reader, &["GET", "marker"]);
        let _ = cmd(args).query::<Value>(&mut writer);
        let _: () = q(&mut writer, &["SET", "marker", "1"]);
        assert_eq!(
            next_invalidation(&mut sub),
            ["k"],
            "{args:?} changed the key but did not invalidate the cache first"
        );
        assert_eq!(next_invalidation(&mut sub), ["marker"]);
    }
}
