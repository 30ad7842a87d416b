//! `rmkit::server::{client, acl, filter}` through a real server (fixture module `aclkit`), and
//! the key behaviours of the ports of Redis's `auth`, `aclcheck` and `commandfilter` test
//! modules (scripts/conformance.sh runs their Tcl files).

use redis::{Connection, Value};
use rmkit_tests::{Server, q, q_err};
use std::time::Duration;

fn aclkit(args: &[&str]) -> (Server, Connection) {
    let server = Server::builder().module_with_args("aclkit", args).start();
    let con = server.client();
    (server, con)
}

fn is_valkey(server: &Server) -> bool {
    server.info("server").contains_key("valkey_version")
}

/// Waits until `con`'s server has dropped it (a command fails with an I/O error).
fn wait_disconnected(server: &Server, con: &mut Connection, what: &str) {
    server.wait_for(what, Duration::from_secs(5), |_| {
        redis::cmd("PING").query::<String>(con).is_err()
    });
}

#[test]
fn client_id_user_and_connection_match_what_the_server_reports() {
    let (server, mut con) = aclkit(&[]);
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let who: (i64, String, String) = q(&mut con, &["aclkit.whoami"]);
    assert_eq!(who, (id, "default".into(), "default".into()));

    let _: () = q(&mut con, &["SELECT", "3"]);
    let info: Vec<Value> = q(&mut con, &["aclkit.clientinfo"]);
    let client_info: String = q(&mut con, &["CLIENT", "INFO"]);
    let addr = client_info
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))
        .expect("CLIENT INFO has addr=");
    let (ip, port) = addr.rsplit_once(':').unwrap();
    assert_eq!(info[0], Value::Int(id));
    assert_eq!(info[1], Value::BulkString(ip.as_bytes().to_vec()));
    assert_eq!(info[2], Value::Int(port.parse().unwrap()));
    assert_eq!(info[3], Value::Int(3));
    assert_eq!(info.len(), 4, "no flags on a plain connection: {info:?}");

    // Another client's connection, by id: in pub/sub mode.
    let mut sub = server.client();
    let sub_id: i64 = q(&mut sub, &["CLIENT", "ID"]);
    let _: Value = q(&mut sub, &["SUBSCRIBE", "ch"]);
    let other: Vec<Value> = q(&mut con, &["aclkit.clientinfo", &sub_id.to_string()]);
    assert_eq!(other[0], Value::Int(sub_id));
    assert!(
        other.contains(&Value::BulkString(b"pubsub".to_vec())),
        "{other:?}"
    );
    let none: Value = q(&mut con, &["aclkit.clientinfo", "999999"]);
    assert_eq!(none, Value::Nil);
}

#[test]
fn context_flags_show_multi_lua_and_master() {
    let (_server, mut con) = aclkit(&[]);
    let plain: Vec<String> = q(&mut con, &["aclkit.flags"]);
    assert!(plain.contains(&"master".to_string()), "{plain:?}");
    assert!(!plain.contains(&"multi".to_string()), "{plain:?}");
    assert!(!plain.contains(&"lua".to_string()), "{plain:?}");

    let in_multi: Vec<Vec<String>> = redis::pipe()
        .atomic()
        .cmd("aclkit.flags")
        .query(&mut con)
        .unwrap();
    assert!(in_multi[0].contains(&"multi".to_string()), "{in_multi:?}");
    assert!(
        in_multi[0].contains(&"deny_blocking".to_string()),
        "{in_multi:?}"
    );

    let in_lua: Vec<String> = q(
        &mut con,
        &["EVAL", "return redis.call('aclkit.flags')", "0"],
    );
    assert!(in_lua.contains(&"lua".to_string()), "{in_lua:?}");

    let _: () = q(&mut con, &["CONFIG", "SET", "maxmemory", "1gb"]);
    let capped: Vec<String> = q(&mut con, &["aclkit.flags"]);
    assert!(capped.contains(&"maxmemory".to_string()), "{capped:?}");
}

#[test]
fn server_version_is_the_servers_own() {
    let (server, mut con) = aclkit(&[]);
    let info = server.info("server");
    let expected = info
        .get("valkey_version")
        .or(info.get("redis_version"))
        .unwrap();
    let v: String = q(&mut con, &["aclkit.version"]);
    assert_eq!(&v, expected);
}

#[test]
fn module_user_authenticates_and_dropping_it_disconnects_its_clients() {
    let (server, mut admin) = aclkit(&[]);
    let _: () = q(
        &mut admin,
        &["aclkit.mkuser", "bob", "on", "allcommands", "allkeys"],
    );
    let mut con = server.client();
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let got: i64 = q(&mut con, &["aclkit.login", "bob"]);
    assert_eq!(got, id);
    let who: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(who, "bob");
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert!(
        !users.contains(&"bob".to_string()),
        "module users are not ACL users: {users:?}"
    );

    let dropped: i64 = q(&mut admin, &["aclkit.dropuser", "bob"]);
    assert_eq!(dropped, 1);
    wait_disconnected(&server, &mut con, "bob's client to be disconnected");
    let changes: i64 = q(&mut admin, &["aclkit.changes"]);
    assert_eq!(changes, 1, "the user-changed callback ran once");

    // An off user and a bad rule are refused.
    let _: () = q(&mut admin, &["aclkit.mkuser", "carol", "allcommands"]);
    let e = q_err(&mut admin, &["aclkit.login", "carol"]);
    assert!(e.starts_with("ERR cannot authenticate as 'carol'"), "{e}");
    let e = q_err(&mut admin, &["aclkit.mkuser", "dave", "+nosuchcommand"]);
    assert!(e.contains("invalid ACL rule '+nosuchcommand'"), "{e}");
}

#[test]
fn acl_user_authentication_and_the_change_callback() {
    let (server, mut con) = aclkit(&[]);
    let e = q_err(&mut con, &["aclkit.loginacl", "nosuchuser"]);
    assert!(e.contains("no such ACL user"), "{e}");
    let _: () = q(
        &mut con,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            "nopass",
            "allcommands",
            "allkeys",
        ],
    );
    let _: i64 = q(&mut con, &["aclkit.loginacl", "alice"]);
    let who: (i64, String, String) = q(&mut con, &["aclkit.whoami"]);
    assert_eq!((who.1.as_str(), who.2.as_str()), ("alice", "alice"));
    let _: () = q(&mut con, &["AUTH", "default", "x"]);
    let changes: i64 = q(&mut con, &["aclkit.changes"]);
    assert_eq!(changes, 1);

    // Deauthenticate and close another client.
    let mut victim = server.client();
    let vid: i64 = q(&mut victim, &["CLIENT", "ID"]);
    let _: () = q(&mut con, &["aclkit.kill", &vid.to_string()]);
    wait_disconnected(&server, &mut victim, "the killed client to be disconnected");
    let e = q_err(&mut con, &["aclkit.kill", "999999"]);
    assert_eq!(e, "ERR no client with id 999999");
}

#[test]
fn acl_checks_answer_as_the_users_rules_say() {
    let (_server, mut con) = aclkit(&[]);
    let _: () = q(
        &mut con,
        &[
            "ACL", "SETUSER", "u", "on", "nopass", "+get", "~k*", "%R~r*", "&ch*",
        ],
    );
    let check = |con: &mut Connection, args: &[&str]| -> Result<String, String> {
        let mut full = vec!["aclkit.check", "u"];
        full.extend_from_slice(args);
        rmkit_tests::cmd(&full)
            .query::<String>(con)
            .map_err(rmkit_tests::err_text)
    };
    assert_eq!(check(&mut con, &["command", "get", "k1"]), Ok("OK".into()));
    assert!(
        check(&mut con, &["command", "set", "k1", "v"])
            .unwrap_err()
            .starts_with("NOPERM")
    );
    assert!(
        check(&mut con, &["command", "get", "other"])
            .unwrap_err()
            .starts_with("NOPERM")
    );
    assert_eq!(check(&mut con, &["key", "R", "r1"]), Ok("OK".into()));
    assert_eq!(check(&mut con, &["key", "ANY", "r1"]), Ok("OK".into()));
    assert!(
        check(&mut con, &["key", "W", "r1"])
            .unwrap_err()
            .starts_with("NOPERM")
    );
    assert_eq!(check(&mut con, &["key", "RW", "k1"]), Ok("OK".into()));
    assert!(
        check(&mut con, &["key", "ANY", "x"])
            .unwrap_err()
            .starts_with("NOPERM")
    );
    assert_eq!(check(&mut con, &["channel", "SUB", "ch1"]), Ok("OK".into()));
    assert!(
        check(&mut con, &["channel", "PUB", "other"])
            .unwrap_err()
            .starts_with("NOPERM")
    );
    let e = q_err(&mut con, &["aclkit.check", "nobody", "key", "R", "k"]);
    assert_eq!(e, "ERR no such ACL user");

    // A module user's check, logged to ACL LOG.
    let _: () = q(
        &mut con,
        &["aclkit.mkuser", "m", "on", "allcommands", "~allowed*"],
    );
    let _: () = q(&mut con, &["aclkit.modcheck", "m", "allowed1"]);
    let e = q_err(&mut con, &["aclkit.modcheck", "m", "secret"]);
    assert!(e.starts_with("NOPERM"), "{e}");
    let log: Vec<Vec<Value>> = q(&mut con, &["ACL", "LOG", "1"]);
    let entry = &log[0];
    let field = |name: &str| {
        let i = entry
            .iter()
            .position(|v| *v == Value::BulkString(name.as_bytes().to_vec()))
            .unwrap_or_else(|| panic!("no {name} in {entry:?}"));
        entry[i + 1].clone()
    };
    assert_eq!(field("reason"), Value::BulkString(b"key".to_vec()));
    assert_eq!(field("object"), Value::BulkString(b"secret".to_vec()));
    assert_eq!(field("username"), Value::BulkString(b"m".to_vec()));
    assert_eq!(field("context"), Value::BulkString(b"module".to_vec()));
}

#[test]
fn redacted_arguments_are_hidden_from_the_slowlog() {
    let (_server, mut con) = aclkit(&[]);
    let _: () = q(&mut con, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = q(&mut con, &["SLOWLOG", "RESET"]);
    let _: () = q(&mut con, &["aclkit.redact", "secret1", "secret2"]);
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    );
    let log: Vec<Vec<Value>> = q(&mut con, &["SLOWLOG", "GET"]);
    let redact = log
        .iter()
        .find_map(|e| match &e[3] {
            Value::Array(a) if a.first() == Some(&Value::BulkString(b"aclkit.redact".to_vec())) => {
                Some(a.clone())
            }
            _ => None,
        })
        .expect("aclkit.redact is in the slowlog");
    let red = Value::BulkString(b"(redacted)".to_vec());
    assert_eq!(&redact[1..], &[red.clone(), red]);
}

#[test]
fn a_filter_rewrites_native_module_lua_and_called_commands_until_unregistered() {
    let (_server, mut con) = aclkit(&["filter"]);
    let echoed: String = q(&mut con, &["ECHO", "@rw"]);
    assert_eq!(echoed, "rewritten");
    let _: () = q(&mut con, &["SET", "k", "@rw"]);
    let v: String = q(&mut con, &["GET", "k"]);
    assert_eq!(v, "rewritten");
    // The command name itself: aclkit.old is rerouted to aclkit.echo.
    let renamed: Vec<String> = q(&mut con, &["aclkit.old", "a", "@rw"]);
    assert_eq!(renamed, ["a", "rewritten"]);
    let called: Vec<String> = q(&mut con, &["aclkit.callecho", "rw"]);
    assert_eq!(
        called,
        ["rewritten"],
        "without NOSELF the module's own calls are filtered"
    );
    let lua: String = q(&mut con, &["EVAL", "return redis.call('echo', '@rw')", "0"]);
    assert_eq!(lua, "rewritten");

    let seen: i64 = q(&mut con, &["aclkit.filtered"]);
    assert!(seen >= 7, "{seen}");
    let gone: i64 = q(&mut con, &["aclkit.unfilter"]);
    assert_eq!(gone, 1);
    let echoed: String = q(&mut con, &["ECHO", "@rw"]);
    assert_eq!(echoed, "@rw");
    let e = q_err(&mut con, &["aclkit.old"]);
    assert!(e.starts_with("ERR unknown command"), "{e}");
}

#[test]
fn a_panicking_filter_is_logged_and_the_command_still_runs() {
    let (server, mut con) = aclkit(&["filter"]);
    let echoed: String = q(&mut con, &["ECHO", "@panic"]);
    assert_eq!(echoed, "@panic");
    server.wait_for(
        "the filter's panic in the log",
        Duration::from_secs(5),
        |s| {
            s.log()
                .contains("a command filter panicked: aclkit: the filter panics on @panic")
        },
    );
    let pong: String = q(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn a_noself_filter_skips_the_modules_own_calls() {
    let (_server, mut con) = aclkit(&["filter-noself"]);
    let echoed: String = q(&mut con, &["ECHO", "@rw"]);
    assert_eq!(echoed, "rewritten");
    let called: Vec<String> = q(&mut con, &["aclkit.callecho", "rw"]);
    assert_eq!(called, ["@rw"]);
    let direct: Vec<String> = q(&mut con, &["aclkit.echo", "@rw"]);
    assert_eq!(direct, ["rewritten"]);
}

#[test]
fn a_bad_load_argument_fails_the_load_with_its_message() {
    let server = Server::start();
    let mut con = server.client();
    let path = rmkit_tests::module_path("aclkit");
    let e = q_err(
        &mut con,
        &["MODULE", "LOAD", path.to_str().unwrap(), "bogus"],
    );
    assert!(e.starts_with("ERR Error loading the extension"), "{e}");
    server.wait_for("the load error in the log", Duration::from_secs(5), |s| {
        s.log().contains("aclkit takes 'filter' or 'filter-noself'")
    });
}

#[test]
fn auth_callback_decides_auth_on_valkey_and_is_refused_clearly_on_redis_7_0() {
    let (server, mut con) = aclkit(&[]);
    if !is_valkey(&server) {
        let e = q_err(&mut con, &["aclkit.authcb"]);
        assert!(
            e.starts_with("ERR custom authentication callbacks need Redis 7.2"),
            "{e}"
        );
        return;
    }
    let _: () = q(&mut con, &["aclkit.authcb"]);
    let mut c = server.client();
    let _: () = q(&mut c, &["AUTH", "tokenuser", "token"]);
    let who: String = q(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(who, "tokenuser");
    let e = q_err(&mut c, &["AUTH", "tokenuser", "wrong"]);
    assert_eq!(e, "ERR aclkit: bad token");
    // Not the callback's user: Redis's own password check decides.
    let _: () = q(&mut c, &["AUTH", "default", "anything"]);
    let who: String = q(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(who, "default");
}

// ---- the ports --------------------------------------------------------------------------

#[test]
fn port_auth_module_user_and_redaction() {
    let server = Server::builder().module("conformance-auth").start();
    let mut con = server.client();
    let _: () = q(&mut con, &["auth.createmoduleuser"]);
    let id: i64 = q(&mut con, &["auth.authmoduleuser"]);
    let me: i64 = q(&mut con, &["CLIENT", "ID"]);
    assert_eq!(id, me);
    let who: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(who, "global");
    let mut other = server.client();
    let _: () = q(&mut other, &["auth.createmoduleuser"]);
    wait_disconnected(
        &server,
        &mut con,
        "the old global user's client to be disconnected",
    );
    let n: i64 = q(&mut other, &["auth.changecount"]);
    assert_eq!(n, 1);
    let e = q_err(&mut other, &["auth.authrealuser", "nobody"]);
    assert_eq!(e, "Invalid user");
}

#[test]
fn port_aclcheck_key_and_rm_call_checks() {
    let server = Server::builder().module("conformance-aclcheck").start();
    let mut con = server.client();
    let _: () = q(
        &mut con,
        &[
            "ACL",
            "SETUSER",
            "default",
            "resetkeys",
            "~x",
            "%W~y",
            "%R~z",
        ],
    );
    let _: () = q(&mut con, &["aclcheck.set.check.key", "*", "x", "5"]);
    assert_eq!(
        q_err(&mut con, &["aclcheck.set.check.key", "*", "v", "5"]),
        "DENIED KEY"
    );
    assert_eq!(
        q_err(&mut con, &["aclcheck.set.check.key", "R", "y", "5"]),
        "DENIED KEY"
    );
    assert_eq!(
        q_err(&mut con, &["aclcheck.rm_call", "set", "z", "5"]),
        "ERR NOPERM"
    );
    // The server's own refusal, passed on (Redis 7.0 and Valkey 8 word it differently).
    let e = q_err(&mut con, &["aclcheck.rm_call_with_errors", "set", "z", "5"]);
    assert!(
        e.starts_with("ERR acl verification failed") || e.starts_with("NOPERM"),
        "{e}"
    );
    let _: () = q(
        &mut con,
        &["aclcheck.rm_call.check.cmd.module.user", "set", "y", "5"],
    );
    let who: String = q(&mut con, &["ACL", "WHOAMI"]);
    assert_eq!(
        who, "default",
        "authenticated back before the module user is freed"
    );
}

#[test]
fn port_commandfilter_rewrites_and_retains() {
    let server = Server::builder()
        .module_with_args("conformance-commandfilter", &["log-key", "0"])
        .start();
    let mut con = server.client();
    let _: () = q(&mut con, &["RPUSH", "l", "@retain", "kept"]);
    let kept: String = q(&mut con, &["commandfilter.retained"]);
    assert_eq!(kept, "kept");
    let _: () = q(&mut con, &["DEL", "l"]);
    let _: () = q(
        &mut con,
        &["RPUSH", "l", "a", "@delme", "@replaceme", "@insertafter"],
    );
    let l: Vec<String> = q(&mut con, &["LRANGE", "l", "0", "-1"]);
    assert_eq!(
        l,
        ["a", "--replaced--", "@insertafter", "--inserted-after--"]
    );
    let _: () = q(&mut con, &["SET", "k", "@log"]);
    let log: Vec<String> = q(&mut con, &["LRANGE", "log-key", "0", "-1"]);
    assert_eq!(log, ["SET k @log"]);
    let r: i64 = q(&mut con, &["commandfilter.unregister"]);
    assert_eq!(r, 0);
}
