//! Module configuration parameters: CONFIG GET/SET and MODULE LOADEX ... CONFIG.

use redis::{Connection, Value};
use rmkit_tests::{Server, err_text, module_path};

fn module_view(c: &mut Connection) -> Vec<String> {
    let v: Value = redis::cmd("memtest.config").query(c).unwrap();
    let Value::Array(flat) = v else {
        panic!("{v:?}")
    };
    flat.iter()
        .map(|x| redis::from_redis_value::<String>(x.clone()).unwrap())
        .collect()
}

#[test]
fn configs_are_visible_settable_and_checked() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    assert_eq!(
        module_view(&mut c),
        [
            "verbose", "0", "limit", "100", "greeting", "hello", "mode", "safe"
        ]
    );
    let all: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("memtest.*")
        .query(&mut c)
        .unwrap();
    assert_eq!(all.len(), 8, "{all:?}");
    for (k, v) in [
        ("memtest.verbose", "yes"),
        ("memtest.limit", "42"),
        ("memtest.greeting", "hi there"),
        ("memtest.mode", "fast"),
    ] {
        let _: String = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query(&mut c)
            .unwrap();
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(k)
            .query(&mut c)
            .unwrap();
        assert_eq!(got, [k, v]);
    }
    assert_eq!(
        module_view(&mut c),
        [
            "verbose", "1", "limit", "42", "greeting", "hi there", "mode", "fast"
        ]
    );
    for (k, v) in [
        ("memtest.limit", "-1"),
        ("memtest.limit", "abc"),
        ("memtest.mode", "turbo"),
        ("memtest.verbose", "maybe"),
    ] {
        let e = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query::<Value>(&mut c)
            .unwrap_err();
        assert!(err_text(e).starts_with("ERR CONFIG SET failed"), "{k} {v}");
    }
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("memtest.greeting")
        .arg(&b"\xff\xfe"[..])
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err_text(e).contains("the value must be valid UTF-8"));
    assert_eq!(
        module_view(&mut c)[3],
        "42",
        "refused values change nothing"
    );
}

#[test]
fn module_loadex_applies_configs_at_load() {
    let server = Server::start();
    let mut c = server.client();
    let path = module_path("memtest-rmkit").display().to_string();
    let _: () = redis::cmd("MODULE")
        .arg("LOADEX")
        .arg(&path)
        .arg("CONFIG")
        .arg("memtest.limit")
        .arg("7")
        .arg("CONFIG")
        .arg("memtest.mode")
        .arg("fast")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        module_view(&mut c),
        [
            "verbose", "0", "limit", "7", "greeting", "hello", "mode", "fast"
        ]
    );
    let _: () = redis::cmd("MODULE")
        .arg("UNLOAD")
        .arg("memtest")
        .query(&mut c)
        .unwrap();
    // A bad value fails the load.
    let e = redis::cmd("MODULE")
        .arg("LOADEX")
        .arg(&path)
        .arg("CONFIG")
        .arg("memtest.limit")
        .arg("-5")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err_text(e).contains("Error loading the extension"));
    // Reloading starts from the defaults again.
    let _: () = redis::cmd("MODULE")
        .arg("LOAD")
        .arg(&path)
        .query(&mut c)
        .unwrap();
    assert_eq!(module_view(&mut c)[3], "100");
}
