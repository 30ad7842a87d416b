//! The server-integration API of rmkit through the `serverapi` test module on a real server:
//! background threads with a `DetachedContext` (the server lock, unload refused while one
//! lives, no deadlock on the main thread), yielding during a long command (`-BUSY`), and
//! (in their sections below) the cluster API, RESP3 attributes and aux RDB data (the
//! `auxdata` module).

use redis::Connection;
use rmkit_tests::{Server, q, q_err};
use std::time::Duration;

fn server() -> (Server, Connection) {
    let server = Server::builder().module("serverapi").start();
    let con = server.client();
    (server, con)
}

fn unload(con: &mut Connection) -> Result<String, String> {
    redis::cmd("MODULE")
        .arg("UNLOAD")
        .arg("serverapi")
        .query::<String>(con)
        .map_err(rmkit_tests::err_text)
}

// ---- threads ----------------------------------------------------------------------------

/// A background thread writes through its detached context under the server lock; while it
/// lives `MODULE UNLOAD` is refused (and the log says why); once it stopped, the unload works.
#[test]
fn detached_context_writes_under_the_lock_and_holds_the_module() {
    let (server, mut con) = server();
    let _: String = q(&mut con, &["bg.start", "ticks", "5"]);
    server.wait_for(
        "the background thread to INCR ticks three times",
        Duration::from_secs(10),
        |s| {
            let n: Option<i64> = q(&mut s.client(), &["GET", "ticks"]);
            n.unwrap_or(0) >= 3
        },
    );
    let e = unload(&mut con).expect_err("MODULE UNLOAD must be refused while the thread runs");
    assert!(e.contains("operation not possible"), "{e}");
    assert!(
        server.log().contains("DetachedContext(s) are alive"),
        "the log says why the unload was refused:\n{}",
        server.log()
    );
    let _: String = q(&mut con, &["bg.stop"]);
    server.wait_for(
        "the background thread to end",
        Duration::from_secs(10),
        |s| q::<i64>(&mut s.client(), &["bg.running"]) == 0,
    );
    let before: i64 = q(&mut con, &["GET", "ticks"]);
    assert_eq!(unload(&mut con), Ok("OK".into()));
    let after: i64 = q(&mut con, &["GET", "ticks"]);
    assert_eq!(before, after, "nothing writes after the thread ended");
}

/// Locking on the main thread (which holds the server lock while a command runs) is refused
/// with an error instead of a deadlock; the server keeps serving.
#[test]
fn locking_on_the_main_thread_is_an_error_not_a_deadlock() {
    let (_server, mut con) = server();
    let e = q_err(&mut con, &["bg.relock"]);
    assert!(e.contains("would deadlock"), "{e}");
    let pong: String = q(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
}

/// `try_lock` from another thread while a command holds the lock gives nothing, at once.
#[test]
fn try_lock_while_the_main_thread_holds_it_is_none() {
    let (_server, mut con) = server();
    let got: i64 = q(&mut con, &["bg.trylock"]);
    assert_eq!(got, 0);
}

/// A command that yields: other clients get `-BUSY <the module's text>` meanwhile instead of
/// waiting, and the long command still completes.
#[test]
fn yielding_command_lets_others_see_busy() {
    let (server, mut con) = server();
    let _: String = q(&mut con, &["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let addr = server.url();
    let long = std::thread::spawn(move || {
        let mut c = redis::Client::open(addr).unwrap().get_connection().unwrap();
        q::<i64>(&mut c, &["busy.loop", "4000"])
    });
    let mut other = server.client();
    server.wait_for(
        "another client to get -BUSY while busy.loop runs",
        Duration::from_secs(4),
        |_| match redis::cmd("PING").query::<String>(&mut other) {
            Err(e) => {
                let text = rmkit_tests::err_text(e);
                assert!(text.starts_with("BUSY"), "{text}");
                assert!(text.contains("serverapi is busy"), "{text}");
                true
            }
            Ok(_) => false,
        },
    );
    let rounds = long.join().expect("busy.loop's client");
    assert!(rounds > 0, "busy.loop ran {rounds} rounds");
    let pong: String = q(&mut other, &["PING"]);
    assert_eq!(pong, "PONG");
}

// ---- cluster ----------------------------------------------------------------------------

/// `CLUSTER NODES` as `cl.nodes` prints it: `id ip port master-or-dash flags`, sorted.
fn nodes_from_cluster_nodes(text: &str) -> Vec<String> {
    let order = ["myself", "master", "slave", "fail?", "fail", "nofailover"];
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let addr = f[1].split('@').next().unwrap();
            let (ip, port) = addr.rsplit_once(':').unwrap();
            let flags: Vec<&str> = order
                .iter()
                .copied()
                .filter(|o| f[2].split(',').any(|x| x == *o))
                .collect();
            format!("{} {ip} {port} {} {}", f[0], f[3], flags.join(","))
        })
        .collect();
    lines.sort();
    lines
}

/// On a real 3-master cluster with a replica each: every node's id, the node list with
/// addresses, masters and flags as `CLUSTER NODES` says, key slots as `CLUSTER KEYSLOT`
/// computes them, and module messages broadcast and sent to one node.
#[test]
fn cluster_ids_nodes_slots_and_messages() {
    let cluster = rmkit_tests::Cluster::start(3, 1, Server::builder().module("serverapi"));
    let nodes = cluster.nodes();
    let mut ids = Vec::new();
    for n in nodes {
        let mut con = n.client();
        let myid: String = q(&mut con, &["CLUSTER", "MYID"]);
        let ours: Option<String> = q(&mut con, &["cl.myid"]);
        assert_eq!(ours.as_deref(), Some(myid.as_str()), "node {}", n.addr());
        ids.push(myid);
    }
    let mut con = nodes[0].client();
    assert_eq!(
        q::<i64>(&mut con, &["cl.size"]),
        6,
        "3 masters and 3 replicas"
    );
    // The view of node 0, once it agrees with CLUSTER NODES (flags such as fail? come and go
    // with the bus, so both are read until they agree).
    nodes[0].wait_for(
        "cl.nodes to agree with CLUSTER NODES on node 0",
        Duration::from_secs(10),
        |s| {
            let mut c = s.client();
            let theirs = nodes_from_cluster_nodes(&q::<String>(&mut c, &["CLUSTER", "NODES"]));
            let ours: Vec<String> = q(&mut c, &["cl.nodes"]);
            if ours != theirs {
                eprintln!("not yet:\n ours   {ours:?}\n theirs {theirs:?}");
            }
            ours == theirs && ours.len() == 6
        },
    );
    let info: Vec<redis::Value> = q(&mut con, &["cl.info", &ids[1]]);
    assert_eq!(info.len(), 2);
    let unknown: Option<Vec<String>> = q(&mut con, &["cl.info", &"0".repeat(40)]);
    assert_eq!(unknown, None);

    for key in [
        "foo",
        "",
        "{user1000}.following",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{",
        "}{",
        "a{b",
        "\u{e9}t\u{e9}",
    ] {
        let theirs: i64 = q(&mut con, &["CLUSTER", "KEYSLOT", key]);
        let ours: i64 = q(&mut con, &["cl.slot", key]);
        assert_eq!(ours, theirs, "slot of {key:?}");
    }

    let _: String = q(&mut con, &["cl.broadcast", "hello"]);
    let _: String = q(&mut con, &["cl.send", &ids[1], "direct"]);
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let want_direct = i == 1;
        n.wait_for(
            "the broadcast (and, on node 1, the direct message) to arrive",
            Duration::from_secs(10),
            |s| {
                let got: Vec<String> = q(&mut s.client(), &["cl.received"]);
                got.contains(&format!("{} hello", ids[0]))
                    && (!want_direct || got.contains(&format!("{} direct", ids[0])))
            },
        );
    }
    let own: Vec<String> = q(&mut con, &["cl.received"]);
    assert!(
        own.is_empty(),
        "the sender does not receive its own broadcast: {own:?}"
    );
    let e = q_err(&mut con, &["cl.send", &"0".repeat(40), "lost"]);
    assert!(e.starts_with("ERR cannot send"), "{e}");
}

/// Outside cluster mode: no id, no nodes, sending is an error that says why; slots still
/// compute.
#[test]
fn cluster_api_outside_cluster_mode() {
    let (_server, mut con) = server();
    assert_eq!(q::<Option<String>>(&mut con, &["cl.myid"]), None);
    assert_eq!(
        q::<Vec<String>>(&mut con, &["cl.nodes"]),
        Vec::<String>::new()
    );
    assert_eq!(q::<i64>(&mut con, &["cl.size"]), 0);
    let e = q_err(&mut con, &["cl.broadcast", "x"]);
    assert!(e.contains("not in cluster mode"), "{e}");
    assert_eq!(q::<i64>(&mut con, &["cl.slot", "foo"]), 12182);
}

// ---- replies ----------------------------------------------------------------------------

/// Sends `args` on a raw connection and reads exactly `want.len()` bytes of reply.
fn raw_reply(stream: &mut std::net::TcpStream, args: &[&str], want: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    stream.write_all(&out).unwrap();
    let mut got = vec![0u8; want.len()];
    stream.read_exact(&mut got).unwrap();
    got
}

/// RESP3 attributes come before the reply they describe; a RESP2 client gets the reply alone
/// (and nothing is left over on its connection).
#[test]
fn attributes_in_resp3_and_not_in_resp2() {
    let (server, _con) = server();
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let plain = b"$3\r\nabc\r\n";
    assert_eq!(raw_reply(&mut s, &["attr.echo", "abc"], plain), plain);
    // RESP2 again: had an attribute been sent, this would read its bytes instead.
    assert_eq!(
        raw_reply(&mut s, &["ECHO", "next"], b"$4\r\nnext\r\n"),
        b"$4\r\nnext\r\n"
    );
    let hello = raw_reply(&mut s, &["HELLO", "3"], b"%");
    assert_eq!(hello, b"%");
    // Skip the rest of HELLO's map: PING after it, then read up to its +PONG.
    use std::io::{Read, Write};
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut seen = Vec::new();
    let mut b = [0u8];
    while !seen.ends_with(b"+PONG\r\n") {
        s.read_exact(&mut b).unwrap();
        seen.push(b[0]);
    }
    let want = b"|1\r\n$6\r\nlength\r\n:3\r\n$3\r\nabc\r\n";
    assert_eq!(
        String::from_utf8_lossy(&raw_reply(&mut s, &["attr.echo", "abc"], want)),
        String::from_utf8_lossy(want)
    );
}

// ---- aux RDB data -----------------------------------------------------------------------

/// Module-wide aux data written before and after the keyspace comes back through SAVE and a
/// restart, DEBUG RELOAD, and a replica's full sync.
#[test]
fn aux_data_survives_restart_reload_and_full_sync() {
    let mut server = Server::builder().module("auxdata").start();
    let mut con = server.client();
    let _: String = q(&mut con, &["aux.set", "42"]);
    let _: String = q(&mut con, &["SAVE"]);
    server.restart();
    let mut con = server.client();
    assert_eq!(
        q::<Vec<i64>>(&mut con, &["aux.get"]),
        [42, 1, 1],
        "after a restart"
    );

    let _: String = q(&mut con, &["aux.set", "43"]);
    let _: String = q(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(
        q::<Vec<i64>>(&mut con, &["aux.get"]),
        [43, 2, 2],
        "after DEBUG RELOAD"
    );

    let replica = Server::builder()
        .module("auxdata")
        .replica_of(&server)
        .start();
    replica.wait_for_sync();
    let got: Vec<i64> = q(&mut replica.client(), &["aux.get"]);
    assert_eq!(got, [43, 1, 1], "on the replica after its full sync");
}

// ---- keys -------------------------------------------------------------------------------

/// A key open twice where one handle writes is refused (a write through one handle could free
/// what the other lent out): an error reply, the key untouched, the server fine; in turn it
/// works.
#[test]
fn a_key_is_not_open_twice_when_one_handle_writes() {
    let (_server, mut con) = server();
    let _: String = q(&mut con, &["SET", "k", "value"]);
    let e = q_err(&mut con, &["keys.twice", "k"]);
    assert!(e.contains("is already open in this command"), "{e}");
    assert_eq!(q::<String>(&mut con, &["GET", "k"]), "value");
    assert_eq!(q::<i64>(&mut con, &["keys.inturn", "k"]), 5);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "k"]), 0);
}
