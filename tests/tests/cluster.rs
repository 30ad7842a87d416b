//! Cluster: three masters with hashex and json, formed by `redis-cli --cluster create`. Module
//! commands are routed by their key specs: a key owned by another node gets `MOVED`, a key in a
//! migrating slot `ASK`, keys sharing a hash tag land on one node, a transaction over two slots
//! gets `CROSSSLOT`, `COMMAND GETKEYS` names exactly the key, `redis-cli -c` runs the README
//! transcript through the cluster, and json/hashex keys move with their slot (MIGRATE).

use redis::Value;
use rmkit_tests::{Server, q, q_err, tool_binary};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// The cluster under test, started by the harness (`rmkit_test::Cluster`), with the lookups
/// these tests need.
struct Cluster {
    inner: rmkit_tests::Cluster,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        let node = Server::builder().module("hashex").module("rmkit-json");
        let inner = rmkit_tests::Cluster::start(n, 0, node);
        for node in inner.nodes() {
            // Relative to the node's own directory (its working directory).
            assert!(node.dir().join("nodes.conf").is_file());
        }
        Cluster { inner }
    }

    fn nodes(&self) -> &[Server] {
        self.inner.nodes()
    }

    /// Slot -> port of the node serving it, from CLUSTER SLOTS as `node` sees it.
    fn slots(&self, node: usize) -> BTreeMap<(i64, i64), u16> {
        let mut c = self.nodes()[node].client();
        let ranges: Vec<Value> = q(&mut c, &["CLUSTER", "SLOTS"]);
        ranges
            .into_iter()
            .map(|r| {
                let Value::Array(r) = r else { panic!("{r:?}") };
                let (Value::Int(a), Value::Int(b), Value::Array(master)) = (&r[0], &r[1], &r[2])
                else {
                    panic!("{r:?}")
                };
                let Value::Int(port) = master[1] else {
                    panic!("{master:?}")
                };
                ((*a, *b), port as u16)
            })
            .collect()
    }

    fn slot_of(&self, key: &str) -> i64 {
        let mut c = self.nodes()[0].client();
        q(&mut c, &["CLUSTER", "KEYSLOT", key])
    }

    /// Index of the node owning `key`'s slot.
    fn owner(&self, key: &str) -> usize {
        let slot = self.slot_of(key);
        let port = self
            .slots(0)
            .iter()
            .find(|((a, b), _)| (*a..=*b).contains(&slot))
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("nobody serves slot {slot}"));
        self.index_of(port)
    }

    fn index_of(&self, port: u16) -> usize {
        self.nodes()
            .iter()
            .position(|n| n.port() == port)
            .unwrap_or_else(|| panic!("no node on port {port}"))
    }

    fn node_id(&self, node: usize) -> String {
        let mut c = self.nodes()[node].client();
        q(&mut c, &["CLUSTER", "MYID"])
    }
}

/// Every module command that takes a key, with `KEY` where the key goes.
const KEYED: &[&[&str]] = &[
    &[
        "JSON.SET",
        "KEY",
        r#"{"a":[1,2],"n":1,"s":"x","b":true,"o":{"p":1}}"#,
    ],
    &["JSON.GET", "KEY"],
    &["JSON.MGET", "KEY", "$.n"],
    &["JSON.MSET", "KEY", "$.n", "2"],
    &["JSON.PATH", "KEY", "$.a[*]"],
    &["JSON.FMT", "KEY", "n={$.n}"],
    &["JSON.TYPE", "KEY"],
    &["JSON.STRLEN", "KEY", "$.s"],
    &["JSON.ARRLEN", "KEY", "$.a"],
    &["JSON.OBJKEYS", "KEY", "$.o"],
    &["JSON.OBJLEN", "KEY", "$.o"],
    &["JSON.ARRINDEX", "KEY", "$.a", "2"],
    &["JSON.RESP", "KEY"],
    &["JSON.NUMINCRBY", "KEY", "$.n", "1"],
    &["JSON.NUMMULTBY", "KEY", "$.n", "2"],
    &["JSON.TOGGLE", "KEY", "$.b"],
    &["JSON.STRAPPEND", "KEY", "$.s", r#""y""#],
    &["JSON.ARRAPPEND", "KEY", "$.a", "3"],
    &["JSON.ARRINSERT", "KEY", "$.a", "0", "0"],
    &["JSON.ARRPOP", "KEY", "$.a"],
    &["JSON.ARRTRIM", "KEY", "$.a", "0", "1"],
    &["JSON.MERGE", "KEY", "$", r#"{"m":1}"#],
    &["JSON.CLEAR", "KEY", "$.o"],
    &["JSON.DEBUG", "MEMORY", "KEY"],
    &["JSON.FORGET", "KEY", "$.b"],
    &["JSON.DEL", "KEY", "$.a[0]"],
    &["HGETSET", "KEY:h", "f", "v"],
    &["HMGETSET", "KEY:h", "f", "v", "g", "w"],
];

fn with_key<'a>(args: &[&'a str], key: &'a str, hkey: &'a str) -> Vec<&'a str> {
    args.iter()
        .map(|&a| match a {
            "KEY" => key,
            "KEY:h" => hkey,
            a => a,
        })
        .collect()
}

#[test]
fn module_commands_are_routed_by_their_keys_in_a_cluster() {
    let cluster = Cluster::start(3);
    let mut checks = 0;

    // 1. The README transcript through the cluster with `redis-cli -c`, from a node that does
    //    not own `a` (so the first command is redirected).
    let owner_a = cluster.owner("a");
    let entry = (owner_a + 1) % 3;
    let mut cli = Command::new(tool_binary("redis-cli"))
        .args([
            "-c",
            "--no-raw",
            "-p",
            &cluster.nodes()[entry].port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cli.stdin
        .take()
        .unwrap()
        .write_all(b"hset a a 1\nhgetset a a 2\nhget a a\nhgetset a b 2\nhgetset a b 3\n")
        .unwrap();
    let out = cli.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let replies: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("-> Redirected"))
        .collect();
    assert_eq!(
        replies,
        ["(integer) 1", "\"1\"", "\"2\"", "(nil)", "\"2\""],
        "redis-cli -c output:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "-> Redirected to slot [{}] located at {}",
            cluster.slot_of("a"),
            cluster.nodes()[owner_a].addr()
        )),
        "{text}"
    );
    eprintln!("redis-cli -c through the cluster:\n{text}");
    checks += 1;

    // 2. Every keyed module command: MOVED from the two other nodes, served by the owner.
    let key = "user:42";
    let hkey = "user:42:h";
    for args in KEYED {
        let args = with_key(args, key, hkey);
        let k = if args[0].starts_with("HM") || args[0].starts_with("HG") {
            hkey
        } else {
            key
        };
        let owner = cluster.owner(k);
        let slot = cluster.slot_of(k);
        for other in (0..3).filter(|&n| n != owner) {
            let mut c = cluster.nodes()[other].client();
            assert_eq!(
                q_err(&mut c, &args),
                format!("MOVED {slot} {}", cluster.nodes()[owner].addr()),
                "{args:?} on a node that does not own slot {slot}"
            );
            checks += 1;
        }
        let mut c = cluster.nodes()[owner].client();
        let _: Value = q(&mut c, &args);
        checks += 1;
    }
    // A module command without keys runs anywhere.
    for node in cluster.nodes() {
        let mut c = node.client();
        let help: Vec<String> = q(&mut c, &["JSON.DEBUG", "HELP"]);
        assert_eq!(
            help[0], "MEMORY <key> [path] - reports memory usage",
            "RedisJSON's help text"
        );
        checks += 1;
    }

    // 3. COMMAND GETKEYS names exactly the key (never a field, value, path or subcommand).
    let mut c = cluster.nodes()[0].client();
    for args in KEYED {
        let args = with_key(args, "k1", "k2");
        let mut getkeys = vec!["COMMAND", "GETKEYS"];
        getkeys.extend(&args);
        let keys: Vec<String> = q(&mut c, &getkeys);
        let expected = if args[0].starts_with('H') { "k2" } else { "k1" };
        assert_eq!(keys, [expected], "{args:?}");
        checks += 1;
    }
    assert_eq!(
        q_err(&mut c, &["COMMAND", "GETKEYS", "JSON.DEBUG", "HELP"]),
        "ERR The command has no key arguments"
    );
    checks += 1;

    // 4. Keys with one hash tag share a slot and a node, whatever the module.
    let (a, b) = ("{user1}a", "{user1}b");
    let slot = cluster.slot_of(a);
    assert_eq!(cluster.slot_of(b), slot);
    let owner = cluster.owner(a);
    assert_eq!(cluster.owner(b), owner);
    let mut o = cluster.nodes()[owner].client();
    let old: Option<String> = q(&mut o, &["HGETSET", a, "f", "1"]);
    assert_eq!(old, None);
    let _: () = q(&mut o, &["JSON.SET", b, r#"{"tag":"user1"}"#]);
    let n: i64 = q(&mut o, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    assert_eq!(n, 2);
    for other in (0..3).filter(|&n| n != owner) {
        let mut c = cluster.nodes()[other].client();
        for args in [&["HGETSET", a, "f", "2"][..], &["JSON.GET", b]] {
            assert_eq!(
                q_err(&mut c, args),
                format!("MOVED {slot} {}", cluster.nodes()[owner].addr())
            );
        }
    }
    checks += 1;

    // 5. CROSSSLOT: a transaction with module commands on two slots of one node is refused as
    //    a whole at EXEC, and writes nothing.
    let other_key = (0..)
        .map(|i| format!("x{i}"))
        .find(|k| cluster.owner(k) == owner && cluster.slot_of(k) != slot)
        .unwrap();
    let _: () = q(&mut o, &["MULTI"]);
    let queued: String = q(&mut o, &["JSON.SET", "{user1}c", "1"]);
    assert_eq!(queued, "QUEUED");
    let queued: String = q(&mut o, &["HGETSET", &other_key, "f", "v"]);
    assert_eq!(queued, "QUEUED");
    assert_eq!(
        q_err(&mut o, &["EXEC"]),
        "CROSSSLOT Keys in request don't hash to the same slot"
    );
    for k in ["{user1}c", other_key.as_str()] {
        let n: i64 = q(&mut o, &["EXISTS", k]);
        assert_eq!(n, 0, "{k}");
    }
    // The multi-key json commands: keys of two slots are refused before anything runs
    // (CROSSSLOT), keys of one hash tag run on their node, and COMMAND GETKEYS names every key.
    let before: Option<String> = q(&mut o, &["JSON.GET", b]);
    for args in [
        &["JSON.MGET", b, &other_key, "$"][..],
        &["JSON.MSET", b, "$", "1", &other_key, "$", "2"],
    ] {
        assert_eq!(
            q_err(&mut o, args),
            "CROSSSLOT Keys in request don't hash to the same slot",
            "{args:?}"
        );
        let mut getkeys = vec!["COMMAND", "GETKEYS"];
        getkeys.extend(args);
        let keys: Vec<String> = q(&mut o, &getkeys);
        assert_eq!(keys, [b, other_key.as_str()], "{args:?}");
    }
    let after: Option<String> = q(&mut o, &["JSON.GET", b]);
    assert_eq!(after, before, "a refused JSON.MSET wrote");
    let n: i64 = q(&mut o, &["EXISTS", &other_key]);
    assert_eq!(n, 0, "a refused JSON.MSET wrote {other_key}");
    let _: () = q(
        &mut o,
        &["JSON.MSET", b, "$", "[1]", "{user1}e", "$", "[2]"],
    );
    let got: Vec<Option<String>> = q(&mut o, &["JSON.MGET", b, "{user1}e", "$[0]"]);
    assert_eq!(got, [Some("[1]".to_owned()), Some("[2]".to_owned())]);
    let _: i64 = q(&mut o, &["DEL", "{user1}e"]);
    checks += 1;

    // The same transaction on one slot runs.
    let _: () = q(&mut o, &["MULTI"]);
    let _: String = q(&mut o, &["JSON.SET", "{user1}c", "1"]);
    let _: String = q(&mut o, &["HGETSET", "{user1}d", "f", "v"]);
    let done: Vec<Value> = q(&mut o, &["EXEC"]);
    assert_eq!(done, [Value::Okay, Value::Nil]);
    checks += 1;

    // 6. Resharding: the slot moves to another node with its json and hash keys (MIGRATE
    //    carries module values as DUMP payloads); ASK while it is half moved.
    let target = (owner + 1) % 3;
    let (src_id, dst_id) = (cluster.node_id(owner), cluster.node_id(target));
    let s = slot.to_string();
    let mut t = cluster.nodes()[target].client();
    let before_a: Vec<String> = q(&mut o, &["HGETALL", a]);
    let before_b: String = q(&mut o, &["JSON.GET", b]);
    let digests: Vec<Vec<String>> = [a, b, "{user1}c", "{user1}d"]
        .iter()
        .map(|k| q(&mut o, &["DEBUG", "DIGEST-VALUE", k]))
        .collect();
    let _: () = q(&mut t, &["CLUSTER", "SETSLOT", &s, "IMPORTING", &src_id]);
    let _: () = q(&mut o, &["CLUSTER", "SETSLOT", &s, "MIGRATING", &dst_id]);
    let tport = cluster.nodes()[target].port().to_string();
    let _: String = q(&mut o, &["MIGRATE", "127.0.0.1", &tport, b, "0", "5000"]);
    // b has moved: the source answers ASK; a is still served where it is.
    assert_eq!(
        q_err(&mut o, &["JSON.GET", b]),
        format!("ASK {slot} {}", cluster.nodes()[target].addr())
    );
    let old: Option<String> = q(&mut o, &["HGETSET", a, "f", "1"]);
    assert_eq!(old.as_deref(), Some("1"));
    // The target serves b only to a client that says ASKING.
    assert_eq!(
        q_err(&mut t, &["JSON.GET", b]),
        format!("MOVED {slot} {}", cluster.nodes()[owner].addr())
    );
    let _: () = q(&mut t, &["ASKING"]);
    let got: String = q(&mut t, &["JSON.GET", b]);
    assert_eq!(got, before_b);
    let _: String = q(
        &mut o,
        &[
            "MIGRATE",
            "127.0.0.1",
            &tport,
            "",
            "0",
            "5000",
            "KEYS",
            a,
            "{user1}c",
            "{user1}d",
        ],
    );
    for node in cluster.nodes() {
        let mut c = node.client();
        let _: () = q(&mut c, &["CLUSTER", "SETSLOT", &s, "NODE", &dst_id]);
    }
    let after: Vec<Vec<String>> = [a, b, "{user1}c", "{user1}d"]
        .iter()
        .map(|k| q(&mut t, &["DEBUG", "DIGEST-VALUE", k]))
        .collect();
    assert_eq!(after, digests, "values changed on the way");
    let got: Vec<String> = q(&mut t, &["HGETALL", a]);
    assert_eq!(got, before_a);
    assert_eq!(
        q_err(&mut o, &["JSON.GET", b]),
        format!("MOVED {slot} {}", cluster.nodes()[target].addr())
    );
    let n: i64 = q(&mut o, &["CLUSTER", "COUNTKEYSINSLOT", &s]);
    assert_eq!(n, 0);
    checks += 1;

    eprintln!("cluster: 3 masters, {checks} routing checks passed");
}
