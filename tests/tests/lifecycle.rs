//! Module lifecycle: unload/reload cycles, counters, statics that survive an unload, and
//! panics in timers and data type callbacks.

use redis::{Connection, Value};
use rmkit_tests::{Server, err_text, module_path, used_memory};
use std::time::Duration;

fn live_bytes(con: &mut Connection) -> i64 {
    let stats: Vec<Value> = redis::cmd("memtest.memory").query(con).unwrap();
    match stats[3] {
        Value::Int(n) => n,
        ref v => panic!("{v:?}"),
    }
}

fn mapped(server: &Server, lib: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/maps", server.pid()))
        .unwrap()
        .contains(lib)
}

#[test]
fn a_hundred_load_unload_cycles_with_traffic_do_not_grow_used_memory() {
    let server = Server::start();
    let mut c = server.client();
    let path = module_path("hashex").display().to_string();
    let cycle = |c: &mut Connection, i: usize| {
        let _: () = redis::cmd("MODULE")
            .arg("LOAD")
            .arg(&path)
            .query(c)
            .unwrap();
        let _: Option<String> = redis::cmd("HGETSET")
            .arg("h")
            .arg("f")
            .arg(i)
            .query(c)
            .unwrap();
        let _: Vec<Value> = redis::cmd("hashex.memory").query(c).unwrap();
        let _: () = redis::cmd("MODULE")
            .arg("UNLOAD")
            .arg("hashex")
            .query(c)
            .unwrap();
    };
    cycle(&mut c, 0); // warm-up: the first load also grows server structures once
    used_memory(&mut c);
    let start = used_memory(&mut c);
    for i in 1..=100 {
        cycle(&mut c, i);
    }
    let end = used_memory(&mut c);
    let growth = (end - start) as f64 / start as f64 * 100.0;
    eprintln!("100 MODULE LOAD/UNLOAD cycles: used_memory {start} -> {end} ({growth:+.3} %)");
    assert!(growth <= 1.0, "used_memory grew {growth:.2} %");
    assert!(
        !mapped(&server, "libhashex"),
        "hashex should be unmapped after unload"
    );
}

#[test]
fn allocator_counters_return_to_their_start() {
    let server = Server::start();
    let mut c = server.client();
    let path = module_path("memtest-rmkit").display().to_string();
    let mut starts = Vec::new();
    for _ in 0..3 {
        let _: () = redis::cmd("MODULE")
            .arg("LOAD")
            .arg(&path)
            .query(&mut c)
            .unwrap();
        let start = live_bytes(&mut c);
        for n in [10, 1000, 1 << 20] {
            let _: i64 = redis::cmd("memtest.grow").arg(n).query(&mut c).unwrap();
        }
        assert!(live_bytes(&mut c) > start + (1 << 20));
        let _: i64 = redis::cmd("memtest.free").query(&mut c).unwrap();
        assert_eq!(
            live_bytes(&mut c),
            start,
            "live bytes after freeing everything"
        );
        let _: () = redis::cmd("MODULE")
            .arg("UNLOAD")
            .arg("memtest")
            .query(&mut c)
            .unwrap();
        starts.push(start);
    }
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "every load starts from the same counters: {starts:?}"
    );
}

#[test]
fn statics_that_survive_an_unload_are_freed_by_on_unload_hooks() {
    let server = Server::start();
    let mut c = server.client();
    let path = module_path("memtest-rmkit").display().to_string();
    let load = |c: &mut Connection| {
        let _: () = redis::cmd("MODULE")
            .arg("LOAD")
            .arg(&path)
            .query(c)
            .unwrap();
    };
    load(&mut c);
    let _: String = redis::cmd("memtest.tls").query(&mut c).unwrap();
    let _: () = redis::cmd("MODULE")
        .arg("UNLOAD")
        .arg("memtest")
        .query(&mut c)
        .unwrap();
    assert!(
        mapped(&server, "libmemtest_rmkit"),
        "a thread-local destructor pins the image"
    );
    used_memory(&mut c);
    let start = used_memory(&mut c);
    for _ in 0..20 {
        load(&mut c);
        let _: String = redis::cmd("memtest.tls").query(&mut c).unwrap();
        let _: i64 = redis::cmd("memtest.grow")
            .arg(1 << 20)
            .query(&mut c)
            .unwrap();
        // No MEMTEST.FREE: the on_unload hook must free the 1 MiB block.
        let _: () = redis::cmd("MODULE")
            .arg("UNLOAD")
            .arg("memtest")
            .query(&mut c)
            .unwrap();
    }
    let end = used_memory(&mut c);
    eprintln!("20 reloads of a pinned image holding 1 MiB each: used_memory {start} -> {end}");
    assert!(
        (end - start) < (1 << 20) / 10,
        "statics leaked across reloads: {start} -> {end}"
    );
}

#[test]
fn a_panicking_timer_is_logged_and_the_server_lives() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let _: String = redis::cmd("memtest.timer")
        .arg(10)
        .arg("panic")
        .arg("k")
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("memtest.timer")
        .arg(30)
        .arg("set")
        .arg("k")
        .query(&mut c)
        .unwrap();
    server.wait_for("the timers", Duration::from_secs(5), |s| {
        let mut c = s.client();
        redis::cmd("HGET")
            .arg("k")
            .arg("fired")
            .query::<Option<String>>(&mut c)
            .unwrap()
            .is_some()
    });
    assert!(
        server
            .log()
            .contains("rmkit: timer callback panicked: timer boom"),
        "{}",
        server.log()
    );
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn panicking_data_type_callbacks_become_errors_or_log_lines() {
    let server = Server::builder().module("boom").start();
    let mut c = server.client();
    for (key, mode) in [
        ("d", "digest"),
        ("c", "copy"),
        ("l", "load"),
        ("ok", "fine"),
    ] {
        let _: String = redis::cmd("boom.set")
            .arg(key)
            .arg(mode)
            .query(&mut c)
            .unwrap();
    }
    // digest: Redis gets no digest bytes from us, the server lives and logs it.
    let _: Value = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert!(
        server
            .log()
            .contains("data type 'mtestboom' digest panicked: digest boom")
    );
    // copy: COPY fails cleanly.
    let e = redis::cmd("COPY").arg("c").arg("c2").query::<Value>(&mut c);
    assert!(e.is_err() || e == Ok(Value::Int(0)), "{e:?}");
    assert!(server.log().contains("copy panicked: copy boom"));
    // rdb_load: RESTORE of the payload is refused.
    let dump: Vec<u8> = redis::cmd("DUMP").arg("l").query(&mut c).unwrap();
    let e = redis::cmd("RESTORE")
        .arg("l2")
        .arg(0)
        .arg(&dump)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err_text(e).contains("Bad data format"));
    assert!(server.log().contains("rdb_load panicked: rdb_load boom"));
    // And a healthy value still round-trips.
    let dump: Vec<u8> = redis::cmd("DUMP").arg("ok").query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("ok2")
        .arg(0)
        .arg(&dump)
        .query(&mut c)
        .unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

/// `MODULE UNLOAD`'s error reply (the reason is in the server log).
fn unload_refused(c: &mut Connection, name: &str) -> String {
    err_text(
        redis::cmd("MODULE")
            .arg("UNLOAD")
            .arg(name)
            .query::<()>(c)
            .expect_err("the unload must be refused"),
    )
}

/// Redis 7.0 keeps pointers to a module's commands in clients after `MODULE UNLOAD`: `EXEC` of
/// a transaction that queued one then calls freed code (signal 11), and `CLIENT LIST` reads a
/// freed command name for a client whose last command was one. The toolkit refuses the unload
/// while either could happen, says why in the log, and lets it through once it cannot.
#[test]
fn unload_waits_until_no_client_can_reach_the_modules_commands() {
    let server = Server::builder().module("hashex").start();
    let (mut a, mut b) = (server.client(), server.client());

    // A transaction with a queued HGETSET.
    let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
    let queued: String = redis::cmd("HGETSET")
        .arg("k")
        .arg("f")
        .arg("v")
        .query(&mut a)
        .unwrap();
    assert_eq!(queued, "QUEUED");
    let e = unload_refused(&mut b, "hashex");
    assert!(e.starts_with("ERR Error unloading module"), "{e}");
    server.wait_for(
        "the log to say why the unload was refused",
        Duration::from_secs(10),
        |s| {
            s.log().contains("MODULE UNLOAD refused: client id=")
                && s.log().contains("has 1 commands queued in MULTI")
        },
    );
    // The transaction runs: the module is still there.
    let r: Vec<Value> = redis::cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, vec![Value::Nil]);

    // A client whose last command is HGETSET holds the unload too, until it runs another.
    let _: Value = redis::cmd("HGETSET")
        .arg("k")
        .arg("f")
        .arg("w")
        .query(&mut a)
        .unwrap();
    unload_refused(&mut b, "hashex");
    server.wait_for(
        "the log to name the client's last command",
        Duration::from_secs(10),
        |s| s.log().contains("last ran 'hgetset'"),
    );
    let _: String = redis::cmd("PING").query(&mut a).unwrap();
    let _: () = redis::cmd("MODULE")
        .arg("UNLOAD")
        .arg("hashex")
        .query(&mut b)
        .unwrap();
    // Both clients see a server that no longer has the command, and CLIENT LIST is sound.
    let e = err_text(
        redis::cmd("HGETSET")
            .arg("k")
            .arg("f")
            .arg("x")
            .query::<Value>(&mut a)
            .unwrap_err(),
    );
    assert!(e.starts_with("ERR unknown command 'HGETSET'"), "{e}");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    assert!(list.lines().count() >= 2, "{list}");
    let v: String = redis::cmd("HGET").arg("k").arg("f").query(&mut b).unwrap();
    assert_eq!(v, "w", "the data written through the module stays");
}
