//! Unload/reload soak: 100 cycles of `MODULE LOAD` / `MODULE UNLOAD` of hashex (every 10th
//! cycle together with `many`, 301 commands) with real traffic on every cycle — 50 HGETSETs, a 20-pair HMGETSET,
//! refused commands (WRONGTYPE, arity), the allocator counters — and native traffic on the same
//! keys while the modules are away. Nothing written is lost across unloads (every HGETSET returns
//! what the previous cycle wrote), the module holds no byte between commands, and `used_memory`
//! grows by at most 1 % over the cycles. json is not part of it: a module with a data type
//! cannot be unloaded.
//!
//! `RMKIT_SOAK=1` runs 1,000 cycles.

use redis::{Connection, Value};
use rmkit_tests::{Server, module_path, q, q_err, used_memory};

fn mapped(server: &Server, lib: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/maps", server.pid()))
        .unwrap()
        .contains(lib)
}

/// Fixed-width values so that the data set keeps its size from cycle to cycle.
fn val(cycle: usize, i: usize) -> String {
    format!("{cycle:08}-{i:04}")
}

/// One cycle; returns the number of commands sent.
fn cycle(c: &mut Connection, hashex: &str, many: &str, n: usize) -> usize {
    let mut sent = 0;
    // `many` (slow to load: 301 commands) joins every 10th cycle, loaded before or after
    // hashex and unloaded in either order.
    let with_many = n.is_multiple_of(10);
    let order: &[&str] = match (with_many, n.is_multiple_of(20)) {
        (false, _) => &[hashex],
        (true, true) => &[hashex, many],
        (true, false) => &[many, hashex],
    };
    for path in order {
        let _: () = q(c, &["MODULE", "LOAD", path]);
        sent += 1;
    }
    let modules: Vec<Value> = q(c, &["MODULE", "LIST"]);
    assert_eq!(modules.len(), order.len());
    // Traffic: each HGETSET returns what the previous cycle wrote.
    for i in 0..50 {
        let old: Option<String> = q(c, &["HGETSET", "h", &format!("f{i}"), &val(n, i)]);
        assert_eq!(
            old,
            n.checked_sub(1).map(|p| val(p, i)),
            "h f{i} in cycle {n}"
        );
    }
    let mut hm = vec!["HMGETSET".to_owned(), "hm".to_owned()];
    for i in 0..20 {
        hm.push(format!("g{i}"));
        hm.push(val(n, i));
    }
    let args: Vec<&str> = hm.iter().map(String::as_str).collect();
    let old: Vec<Option<String>> = q(c, &args);
    assert_eq!(
        old,
        (0..20)
            .map(|i| n.checked_sub(1).map(|p| val(p, i)))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        q_err(c, &["HGETSET", "str", "f", "v"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        q_err(c, &["HMGETSET", "hm", "f"]),
        "ERR wrong number of arguments for 'hmgetset' command"
    );
    if with_many {
        let k: i64 = q(c, &["MANY.CMD300"]);
        assert_eq!(k, 300);
        sent += 1;
    }
    // The module holds nothing between commands.
    let stats: Vec<Value> = q(c, &["HASHEX.MEMORY"]);
    assert_eq!(stats[3], Value::Int(0), "hashex live bytes: {stats:?}");
    sent += 50 + 1 + 2 + 1 + 1;
    let unload: &[&str] = match (with_many, n.is_multiple_of(30)) {
        (false, _) => &["hashex"],
        (true, true) => &["hashex", "many"],
        (true, false) => &["many", "hashex"],
    };
    for name in unload {
        let _: () = q(c, &["MODULE", "UNLOAD", name]);
        sent += 1;
    }
    // Modules gone: their commands are unknown, their data is native and stays.
    let e = q_err(c, &["HGETSET", "h", "f0", "x"]);
    assert!(e.starts_with("ERR unknown command 'HGETSET'"), "{e}");
    let v: String = q(c, &["HGET", "h", "f49"]);
    assert_eq!(v, val(n, 49));
    let _: i64 = q(c, &["HSET", "native", "f", &val(n, 0)]);
    sent += 3;
    sent
}

#[test]
fn load_unload_cycles_with_traffic_lose_nothing_and_do_not_grow_used_memory() {
    let cycles = if std::env::var_os("RMKIT_SOAK").is_some_and(|v| !v.is_empty() && v != "0") {
        1_000
    } else {
        100
    };
    let server = Server::builder()
        .config("slowlog-log-slower-than", "-1")
        .start();
    let mut c = server.client();
    let hashex = module_path("hashex").display().to_string();
    let many = module_path("many").display().to_string();
    let _: () = q(&mut c, &["SET", "str", "x"]);
    // Warm-up (a cycle with `many` and one without): the first cycles grow server structures once (command table, latency
    // histograms of each command, the connection's buffers).
    let mut sent = 0;
    for n in [0, 1] {
        sent += cycle(&mut c, &hashex, &many, n);
    }
    used_memory(&mut c);
    let start = used_memory(&mut c);
    for n in 2..cycles + 2 {
        sent += cycle(&mut c, &hashex, &many, n);
    }
    let end = used_memory(&mut c);
    let growth = (end - start) as f64 / start as f64 * 100.0;
    eprintln!(
        "{cycles} MODULE LOAD/UNLOAD cycles of hashex + many with {sent} commands of traffic: \
         used_memory {start} -> {end} ({growth:+.3} %)"
    );
    assert!(growth <= 1.0, "used_memory grew {growth:.2} %");
    assert!(
        !mapped(&server, "libhashex"),
        "hashex unmapped after unload"
    );
    assert!(!mapped(&server, "libmany"), "many unmapped after unload");
}
