//! ACL through module commands: command permissions (categories and single commands) and key
//! patterns are enforced on hashex and json exactly as on native commands, at the top level,
//! inside MULTI and inside scripts; a refused command changes nothing.
//!
//! Redis 7.0 has no API for a module to put its commands into ACL categories
//! (`RedisModule_SetCommandACLCategories` is 7.2+), so on 7.0 `+@read` does not include
//! JSON.GET: read-only users are granted the module's read commands by name. The tests take
//! the expectation from the server's own `ACL CAT read`, so they hold on 7.0 and later.

use redis::{Connection, Value};
use rmkit_tests::{Server, cmd, err_text, q};
use std::collections::HashMap;

fn try_q(con: &mut Connection, args: &[&str]) -> Result<Value, String> {
    cmd(args).query::<Value>(con).map_err(err_text)
}

/// A connection authenticated as `user` (password `pw`).
fn login(server: &Server, user: &str) -> Connection {
    let mut c = server.client();
    let _: () = q(&mut c, &["AUTH", user, "pw"]);
    c
}

fn digest(con: &mut Connection) -> String {
    q(con, &["DEBUG", "DIGEST"])
}

/// The server's wording of ACL refusals (Redis's, or Valkey's where it differs).
struct Wording {
    valkey: bool,
}

impl Wording {
    fn of(server: &Server) -> Wording {
        Wording {
            valkey: server.info("server").contains_key("valkey_version"),
        }
    }

    /// A refused command, run by `user`.
    fn no_command(&self, user: &str, cmd: &str) -> String {
        if self.valkey {
            format!("NOPERM User {user} has no permissions to run the '{cmd}' command")
        } else {
            format!("NOPERM this user has no permissions to run the '{cmd}' command")
        }
    }

    /// The start of a key refused inside a script.
    fn script_no_key(&self) -> &'static str {
        if self.valkey {
            "ERR ACL failure in script: No permissions to access a key"
        } else {
            "ERR The user executing the script can't access at least one of the keys mentioned \
             in the command arguments"
        }
    }

    /// A refused key.
    fn no_key(&self) -> String {
        if self.valkey {
            "NOPERM No permissions to access a key".into()
        } else {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
    }
}

/// The module's read commands and write commands, on key `k` (json) and `h` (hash).
const READS: &[&[&str]] = &[
    &["JSON.GET", "k"],
    &["JSON.PATH", "k", "$.a[*]"],
    &["JSON.TYPE", "k"],
    &["JSON.ARRLEN", "k", "$.a"],
    &["JSON.FMT", "k", "{$.n}"],
    &["JSON.DEBUG", "MEMORY", "k"],
];
const WRITES: &[&[&str]] = &[
    &["JSON.SET", "k", "1"],
    &["JSON.DEL", "k", "$.a"],
    &["JSON.NUMINCRBY", "k", "$.n", "1"],
    &["HGETSET", "h", "f", "new"],
    &["HMGETSET", "h", "f", "new", "g", "new"],
];

fn server_with_data() -> (Server, Connection) {
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .start();
    let mut admin = server.client();
    let _: () = q(&mut admin, &["JSON.SET", "k", r#"{"a":[1,2],"n":1}"#]);
    let _: () = q(&mut admin, &["HSET", "h", "f", "v"]);
    (server, admin)
}

/// The lower-case names in `ACL CAT <category>`.
fn category(con: &mut Connection, cat: &str) -> Vec<String> {
    q::<Vec<String>>(con, &["ACL", "CAT", cat])
        .into_iter()
        .map(|c| c.to_lowercase())
        .collect()
}

/// Every module write in [`WRITES`], run as `reader`, is refused by name.
fn assert_every_write_refused(r: &mut Connection, say: &Wording) {
    assert_every_write_refused_for(r, "reader", say);
}

/// Every module write in [`WRITES`], run as `user`, is refused by name.
fn assert_every_write_refused_for(r: &mut Connection, user: &str, say: &Wording) {
    for w in WRITES {
        assert_eq!(
            try_q(r, w),
            Err(say.no_command(user, &w[0].to_lowercase())),
            "{w:?}"
        );
    }
}

#[test]
fn a_read_only_user_reads_and_is_refused_every_module_write() {
    let (server, mut admin) = server_with_data();
    let say = Wording::of(&server);
    let before = digest(&mut admin);
    let in_read = category(&mut admin, "read");
    assert!(in_read.contains(&"hget".to_owned()));
    for w in WRITES {
        assert!(!in_read.contains(&w[0].to_lowercase()), "{w:?} in @read");
    }
    let json_in_read = in_read.contains(&"json.get".to_owned());
    let version: String = server.info("server")["redis_version"].clone();
    eprintln!(
        "redis {version}: module commands in @read: {}",
        if json_in_read {
            "yes"
        } else {
            "no (json declares no ACL category; before 7.2 a module cannot declare any)"
        }
    );

    // `+@read`: native reads work; the module's writes are refused by name.
    let _: String = q(
        &mut admin,
        &["ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@read"],
    );
    let mut r = login(&server, "reader");
    let v: String = q(&mut r, &["HGET", "h", "f"]);
    assert_eq!(v, "v");
    match try_q(&mut r, &["JSON.GET", "k"]) {
        Ok(v) => assert!(json_in_read, "JSON.GET allowed outside @read: {v:?}"),
        Err(e) => {
            assert!(!json_in_read, "JSON.GET refused although in @read: {e}");
            assert_eq!(e, say.no_command("reader", "json.get"));
        }
    }
    assert_every_write_refused(&mut r, &say);

    // The same user granted the module's read commands by name (the way on 7.0).
    let _: String = q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "reader",
            "+json.get",
            "+json.path",
            "+json.type",
            "+json.arrlen",
            "+json.fmt",
            "+json.debug|memory",
            "+multi",
            "+exec",
        ],
    );
    let expected: [Value; 6] = [
        Value::BulkString(br#"{"a":[1,2],"n":1}"#.to_vec()),
        Value::BulkString(b"[1,2]".to_vec()),
        Value::BulkString(b"object".to_vec()),
        Value::Array(vec![Value::Int(2)]),
        Value::BulkString(b"1".to_vec()),
        Value::Int(q(&mut admin, &["JSON.DEBUG", "MEMORY", "k"])),
    ];
    for (read, want) in READS.iter().zip(&expected) {
        assert_eq!(try_q(&mut r, read).as_ref(), Ok(want), "{read:?}");
    }
    assert_every_write_refused(&mut r, &say);
    // JSON.DEBUG HELP was not granted: subcommands are separate permissions.
    assert_eq!(
        try_q(&mut r, &["JSON.DEBUG", "HELP"]),
        Err(say.no_command("reader", "json.debug|help"))
    );

    // Inside MULTI the refusal comes at queue time and aborts the transaction.
    let _: () = q(&mut r, &["MULTI"]);
    let queued: String = q(&mut r, &["JSON.GET", "k"]);
    assert_eq!(queued, "QUEUED");
    assert_eq!(
        try_q(&mut r, &["HGETSET", "h", "f", "x"]),
        Err(say.no_command("reader", "hgetset"))
    );
    assert_eq!(
        try_q(&mut r, &["EXEC"]),
        Err("EXECABORT Transaction discarded because of previous errors.".into())
    );

    assert_eq!(digest(&mut admin), before, "a refused write changed data");
    // ACL LOG names each refused command (repeats are grouped, with a count).
    let log: Vec<HashMap<String, Value>> = q(&mut admin, &["ACL", "LOG"]);
    let text = |e: &HashMap<String, Value>, k: &str| -> String {
        redis::from_redis_value(e[k].clone()).unwrap()
    };
    for w in WRITES {
        let name = w[0].to_lowercase();
        let count: i64 = log
            .iter()
            .filter(|e| text(e, "object") == name && text(e, "context") == "toplevel")
            .inspect(|e| {
                assert_eq!(
                    (text(e, "reason"), text(e, "username")),
                    ("command".into(), "reader".into())
                )
            })
            .map(|e| redis::from_redis_value::<i64>(e["count"].clone()).unwrap())
            .sum();
        assert_eq!(count, 2, "ACL LOG entries for {name}");
    }
    assert!(
        log.iter()
            .any(|e| text(e, "object") == "hgetset" && text(e, "context") == "multi"),
        "the refusal inside MULTI is logged"
    );
    eprintln!(
        "acl: reader (+@read, then + the json read commands): HGET and {} json reads allowed, \
         {} module writes refused with NOPERM, data unchanged",
        READS.len(),
        2 * WRITES.len()
    );
}

#[test]
fn key_patterns_are_enforced_through_module_commands() {
    let (server, mut admin) = server_with_data();
    let say = Wording::of(&server);
    let _: String = q(
        &mut admin,
        &["ACL", "SETUSER", "app", "on", ">pw", "~user:*", "+@all"],
    );
    let _: () = q(&mut admin, &["JSON.SET", "other:1", r#"{"a":[1],"n":0}"#]);
    let _: () = q(&mut admin, &["HSET", "other:h", "f", "v"]);
    let before = digest(&mut admin);
    let mut a = login(&server, "app");

    // Every keyed module command: allowed on user:*, refused on other:*.
    let mut allowed = 0;
    let mut refused = 0;
    let all: Vec<&[&str]> = std::iter::once(&["JSON.SET", "k", r#"{"a":[1,2],"n":1}"#][..])
        .chain(READS.iter().copied())
        .chain(WRITES[1..].iter().copied())
        .collect();
    for args in &all {
        let ours: Vec<&str> = args
            .iter()
            .map(|&x| match x {
                "k" => "user:1",
                "h" => "user:h",
                x => x,
            })
            .collect();
        let theirs: Vec<&str> = args
            .iter()
            .map(|&x| match x {
                "k" => "other:1",
                "h" => "other:h",
                x => x,
            })
            .collect();
        assert!(try_q(&mut a, &ours).is_ok(), "{ours:?}");
        allowed += 1;
        assert_eq!(try_q(&mut a, &theirs), Err(say.no_key()), "{theirs:?}");
        refused += 1;
    }
    // The refusals are in the ACL log, naming the user and the key.
    let log: Vec<HashMap<String, Value>> = q(&mut admin, &["ACL", "LOG", "1"]);
    let field = |name: &str| -> String {
        redis::from_redis_value(log[0][name].clone()).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(
        [
            field("reason"),
            field("context"),
            field("object"),
            field("username")
        ],
        ["key", "toplevel", "other:h", "app"]
    );

    // Scripts cannot reach around the key patterns either.
    assert_eq!(
        try_q(
            &mut a,
            &[
                "EVAL",
                "return redis.call('json.set', KEYS[1], '1')",
                "1",
                "other:1"
            ]
        ),
        Err(say.no_key())
    );
    refused += 1;
    for body in [
        "return redis.call('json.set', 'other:1', '1')",
        "return redis.call('hgetset', 'other:h', 'f', 'x')",
    ] {
        let e = try_q(&mut a, &["EVAL", body, "1", "user:1"]).unwrap_err();
        assert!(e.starts_with(say.script_no_key()), "{body}: {e}");
        refused += 1;
    }
    let got: String = q(
        &mut a,
        &[
            "EVAL",
            "return redis.call('json.get', KEYS[1])",
            "1",
            "user:1",
        ],
    );
    assert_eq!(got, r#"{"n":2}"#);
    allowed += 1;

    // Nothing of other:* changed (user:* did, by the allowed commands).
    for k in ["user:1", "user:h"] {
        let _: i64 = q(&mut admin, &["DEL", k]);
    }
    assert_eq!(digest(&mut admin), before);
    eprintln!(
        "acl: app (~user:* +@all): {allowed} module commands allowed on user:*, {refused} \
         refused with NOPERM on other:* (top level and in scripts), other:* unchanged"
    );
}

#[test]
fn read_only_key_permissions_follow_the_module_key_specs() {
    let (server, mut admin) = server_with_data();
    let say = Wording::of(&server);
    let _: String = q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "ro",
            "on",
            ">pw",
            "%R~*",
            "+@read",
            "+json.get",
            "+hgetset",
        ],
    );
    let mut r = login(&server, "ro");
    // A native read under a read-only key pattern.
    let v: String = q(&mut r, &["HGET", "h", "f"]);
    assert_eq!(v, "v");
    // HGETSET declares "RW access update": it needs write access to its key.
    assert_eq!(
        try_q(&mut r, &["HGETSET", "h", "f", "x"]),
        Err(say.no_key())
    );
    // JSON.GET: allowed exactly when its key spec says RO.
    let flags = key_spec_flags(&mut admin, "json.get");
    let read_only_spec = flags.iter().any(|f| f == "RO");
    let got = try_q(&mut r, &["JSON.GET", "k"]);
    if read_only_spec {
        assert!(got.is_ok(), "{got:?}");
    } else {
        assert_eq!(got, Err(say.no_key()));
        eprintln!(
            "NOTE: JSON.GET's key spec is {flags:?} (Redis's default for a command that declares \
             none): a user with read-only key access (%R~) cannot run it"
        );
    }
}

/// The flags of the first key spec of `command`, from `COMMAND INFO` (element 8: the key
/// specs, each a flat map with a `flags` array).
fn key_spec_flags(con: &mut Connection, command: &str) -> Vec<String> {
    let info: Vec<Vec<Value>> = q(con, &["COMMAND", "INFO", command]);
    let specs: Vec<HashMap<String, Value>> =
        redis::from_redis_value(info[0][8].clone()).expect("key specs");
    redis::from_redis_value(specs[0]["flags"].clone()).expect("key spec flags")
}

/// `+@all -@write` keeps a user from module writes where the server lets a module put its
/// commands in ACL categories (Redis 7.2+, Valkey 8). Redis 7.0 cannot: the module says so at
/// load in one warning line, and such users must be restricted by command name, which works.
#[test]
fn category_rules_cover_module_commands_where_the_server_allows_it() {
    let (server, mut admin) = server_with_data();
    let say = Wording::of(&server);
    let before = digest(&mut admin);
    let in_write = category(&mut admin, "write");
    let categories = in_write.contains(&"json.set".to_owned());
    let _: String = q(
        &mut admin,
        &[
            "ACL", "SETUSER", "nowrite", "on", ">pw", "~*", "+@all", "-@write",
        ],
    );
    let mut u = login(&server, "nowrite");
    let v: String = q(&mut u, &["JSON.GET", "k"]);
    assert_eq!(v, r#"{"a":[1,2],"n":1}"#);
    if categories {
        for w in WRITES {
            assert!(
                in_write.contains(&w[0].to_lowercase()),
                "{w:?} not in @write"
            );
        }
        assert_every_write_refused_for(&mut u, "nowrite", &say);
        eprintln!(
            "acl: +@all -@write refuses every module write ({})",
            server.describe()
        );
    } else {
        // Redis 7.0: said once, at load, for each module.
        for module in ["hashex", "json"] {
            let line = format!(
                "rmkit: this server cannot put module commands in ACL categories (needs Redis \
                 7.2+): rules such as '-@write' or '+@read' do not apply to module '{module}''s"
            );
            assert_eq!(
                server.log().matches(&line).count(),
                1,
                "the load warning for {module}"
            );
        }
        // Restricting by name is the way.
        let mut args = vec!["ACL", "SETUSER", "nowrite"];
        let denied: Vec<String> = WRITES
            .iter()
            .map(|w| format!("-{}", w[0].to_lowercase()))
            .collect();
        args.extend(denied.iter().map(String::as_str));
        let _: String = q(&mut admin, &args);
        assert_every_write_refused_for(&mut u, "nowrite", &say);
        eprintln!(
            "acl: {}: categories cannot hold module commands (warned at load); module writes \
             refused by name",
            server.describe()
        );
    }
    assert_eq!(digest(&mut admin), before, "a refused write changed data");
}

/// Whether a json command reads or writes its keys.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Access {
    Read,
    Write,
    /// No key at all (`JSON.DEBUG HELP`, the allocator's `json.memory`).
    None,
}

/// Every command the json module registers, with an invocation on key `K` (twice for the
/// multi-key commands: `K` and `K2`) and how it touches its keys.
const JSON_COMMANDS: &[(&[&str], Access)] = &[
    (&["JSON.GET", "K", "$.a"], Access::Read),
    (&["JSON.MGET", "K", "K2", "$.n"], Access::Read),
    (&["JSON.TYPE", "K", "$.a"], Access::Read),
    (&["JSON.STRLEN", "K", "$.s"], Access::Read),
    (&["JSON.ARRLEN", "K", "$.a"], Access::Read),
    (&["JSON.OBJKEYS", "K", "$.o"], Access::Read),
    (&["JSON.OBJLEN", "K", "$.o"], Access::Read),
    (&["JSON.ARRINDEX", "K", "$.a", "2"], Access::Read),
    (&["JSON.RESP", "K", "$.o"], Access::Read),
    (&["JSON.DEBUG", "MEMORY", "K"], Access::Read),
    (&["JSON.DEBUG", "HELP"], Access::None),
    (&["JSON.PATH", "K", "$.a[*]"], Access::Read),
    (&["JSON.FMT", "K", "{$.n}"], Access::Read),
    (&["JSON.MEMORY"], Access::None),
    (&["JSON.SET", "K", "$.n", "5"], Access::Write),
    (
        &["JSON.MSET", "K", "$.n", "6", "K2", "$.n", "7"],
        Access::Write,
    ),
    (&["JSON.MERGE", "K", "$", r#"{"m":1}"#], Access::Write),
    (&["JSON.NUMINCRBY", "K", "$.n", "1"], Access::Write),
    (&["JSON.NUMMULTBY", "K", "$.n", "2"], Access::Write),
    (&["JSON.TOGGLE", "K", "$.b"], Access::Write),
    (&["JSON.STRAPPEND", "K", "$.s", r#""y""#], Access::Write),
    (&["JSON.ARRAPPEND", "K", "$.a", "3"], Access::Write),
    (&["JSON.ARRINSERT", "K", "$.a", "0", "0"], Access::Write),
    (&["JSON.ARRPOP", "K", "$.a"], Access::Write),
    (&["JSON.ARRTRIM", "K", "$.a", "0", "1"], Access::Write),
    (&["JSON.CLEAR", "K", "$.o"], Access::Write),
    (&["JSON.DEL", "K", "$.s"], Access::Write),
    (&["JSON.FORGET", "K", "$.b"], Access::Write),
];

const JSON_DOC: &str = r#"{"a":[1,2],"n":1,"s":"x","b":true,"o":{"p":1}}"#;

/// `JSON_COMMANDS[i]` with its keys named `k` and `k2`.
fn json_invocation<'a>(args: &[&'a str], k: &'a str, k2: &'a str) -> Vec<&'a str> {
    args.iter()
        .map(|&a| match a {
            "K" => k,
            "K2" => k2,
            a => a,
        })
        .collect()
}

/// The command name as COMMAND INFO knows it (`json.debug|memory` for a subcommand).
fn json_command_name(args: &[&str]) -> String {
    match args {
        [c, sub, ..] if c.eq_ignore_ascii_case("JSON.DEBUG") => {
            format!("{}|{}", c.to_lowercase(), sub.to_lowercase())
        }
        [c, ..] => c.to_lowercase(),
        [] => unreachable!("an empty invocation"),
    }
}

/// Every json command declares how it touches its keys (RO key specs for reads, RW/OW for
/// writes), and ACL key permissions follow: a user with read-only key access (`%R~*`) runs
/// every read and is refused every write; a user with key pattern `~user:*` is refused every
/// command on another key (for the multi-key commands: as soon as one key is outside). The
/// list is checked against the module's own `COMMAND LIST`, so a new command cannot be missed.
#[test]
fn every_json_command_declares_its_key_access_and_acl_follows_it() {
    let server = Server::builder().module("rmkit-json").start();
    let say = Wording::of(&server);
    let mut admin = server.client();

    let mut listed: Vec<String> = q(
        &mut admin,
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "json"],
    );
    listed.sort();
    // COMMAND LIST names subcommands (`json.debug|memory`) and their container (`json.debug`).
    let mut ours: Vec<String> = JSON_COMMANDS
        .iter()
        .flat_map(|(args, _)| [args[0].to_lowercase(), json_command_name(args)])
        .collect();
    ours.sort();
    ours.dedup();
    assert_eq!(
        listed, ours,
        "the module's commands vs JSON_COMMANDS: add a new command to the list"
    );

    // The keys and their flags as the server derives them (key specs, or the module's getkeys
    // function for JSON.MGET/MSET): RO for reads, RW or OW for writes, for every key.
    for (args, access) in JSON_COMMANDS {
        let run = json_invocation(args, "k1", "k2");
        let mut getkeys = vec!["COMMAND", "GETKEYSANDFLAGS"];
        getkeys.extend(&run);
        if *access == Access::None {
            if run.len() < 2 {
                // COMMAND GETKEYSANDFLAGS needs an argument after the command; none has keys.
                continue;
            }
            assert_eq!(
                try_q(&mut admin, &getkeys),
                Err("ERR The command has no key arguments".into()),
                "{run:?}"
            );
            continue;
        }
        let keys: Vec<(String, Vec<String>)> = q(&mut admin, &getkeys);
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        let expected: &[&str] = if run.contains(&"k2") {
            &["k1", "k2"]
        } else {
            &["k1"]
        };
        assert_eq!(names, expected, "{run:?}");
        for (_, flags) in &keys {
            let has = |f: &str| flags.iter().any(|x| x == f);
            match access {
                Access::Read => {
                    assert!(has("RO") && !has("RW") && !has("OW"), "{run:?}: {flags:?}")
                }
                _ => assert!((has("RW") || has("OW")) && !has("RO"), "{run:?}: {flags:?}"),
            }
        }
    }

    for k in ["user:1", "user:2", "other:1", "other:2"] {
        let _: () = q(&mut admin, &["JSON.SET", k, JSON_DOC]);
    }
    let _: String = q(
        &mut admin,
        &["ACL", "SETUSER", "ro", "on", ">pw", "%R~*", "+@all"],
    );
    let _: String = q(
        &mut admin,
        &["ACL", "SETUSER", "app", "on", ">pw", "~user:*", "+@all"],
    );
    let before = digest(&mut admin);
    let mut ro = login(&server, "ro");
    let mut app = login(&server, "app");
    let (mut reads, mut writes) = (0, 0);
    for (args, access) in JSON_COMMANDS {
        let run = json_invocation(args, "other:1", "other:2");
        match access {
            Access::None => {
                assert!(try_q(&mut ro, &run).is_ok(), "{run:?}");
                continue;
            }
            Access::Read => {
                let got = try_q(&mut ro, &run);
                assert!(got.is_ok(), "{run:?} as a read-only user: {got:?}");
                reads += 1;
            }
            Access::Write => {
                assert_eq!(try_q(&mut ro, &run), Err(say.no_key()), "{run:?}");
                writes += 1;
            }
        }
        // Outside the key pattern: refused, whichever of the keys is outside.
        assert_eq!(try_q(&mut app, &run), Err(say.no_key()), "{run:?}");
        if run.contains(&"other:2") {
            let mixed = json_invocation(args, "user:1", "other:2");
            assert_eq!(try_q(&mut app, &mixed), Err(say.no_key()), "{mixed:?}");
        }
        let inside = json_invocation(args, "user:1", "user:2");
        let got = try_q(&mut app, &inside);
        assert!(got.is_ok(), "{inside:?} inside the key pattern: {got:?}");
    }
    // What app changed on user:* is not what this compares: put it back first.
    for k in ["user:1", "user:2"] {
        let _: () = q(&mut admin, &["JSON.SET", k, JSON_DOC]);
    }
    assert_eq!(digest(&mut admin), before, "a refused command changed data");
    eprintln!(
        "acl: {reads} json reads and {writes} writes declare RO/RW key specs; %R~* runs the \
         reads and is refused the writes; ~user:* is refused all of them on other keys"
    );
}
