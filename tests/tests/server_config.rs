//! The module lifecycle, INFO and config APIs through a real server: `on_load!` (arguments,
//! refusal, when `LoadConfigs` runs), `on_info!` sections and dict fields, reading the server's
//! INFO, config flags (immutable, hidden, protected, memory, bitflags), `validate` and
//! `on_apply`; and the key behaviours of the infotest / moduleconfigs / moduleconfigstwo ports.

use redis::{Connection, Value};
use rmkit_tests::{Server, module_path, q, q_err};

fn hooks_path() -> String {
    module_path("loadhooks").to_string_lossy().into_owned()
}

fn modules(c: &mut Connection) -> Vec<String> {
    let v: Value = q(c, &["MODULE", "LIST"]);
    let Value::Array(mods) = v else {
        panic!("{v:?}")
    };
    mods.iter()
        .map(|m| {
            let fields: Vec<Value> = redis::from_redis_value(m.clone()).unwrap();
            redis::from_redis_value::<String>(fields[1].clone()).unwrap()
        })
        .collect()
}

fn config_get(c: &mut Connection, name: &str) -> Vec<String> {
    q(c, &["CONFIG", "GET", name])
}

fn info(c: &mut Connection, section: &str) -> String {
    q(c, &["INFO", section])
}

#[test]
fn on_load_receives_the_module_arguments() {
    let server = Server::builder()
        .module_with_args("loadhooks", &["a", "b"])
        .start();
    let mut c = server.client();
    assert_eq!(q::<Vec<String>>(&mut c, &["hooks.args"]), ["a", "b"]);

    let path = hooks_path();
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "hooks"]);
    let _: () = q(&mut c, &["MODULE", "LOAD", &path, "x", "y", "z"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["hooks.args"]), ["x", "y", "z"]);
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "hooks"]);
    let _: () = q(&mut c, &["MODULE", "LOADEX", &path, "ARGS", "p", "q"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["hooks.args"]), ["p", "q"]);
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "hooks"]);
    let _: () = q(&mut c, &["MODULE", "LOAD", &path]);
    assert!(q::<Vec<String>>(&mut c, &["hooks.args"]).is_empty());
}

#[test]
fn on_load_refuses_the_load_with_its_message_in_the_log() {
    let server = Server::start();
    let mut c = server.client();
    let path = hooks_path();
    let e = q_err(&mut c, &["MODULE", "LOAD", &path, "fail", "no-disk"]);
    assert!(e.starts_with("ERR"), "{e}");
    assert!(modules(&mut c).is_empty());
    assert!(config_get(&mut c, "hooks.*").is_empty());
    server.wait_for(
        "the refusal in the log",
        std::time::Duration::from_secs(5),
        |s| {
            s.log()
                .contains("module 'hooks' not loaded: refused: no-disk")
        },
    );
    // The same image loads afterwards.
    let _: () = q(&mut c, &["MODULE", "LOAD", &path]);
    assert_eq!(modules(&mut c), ["hooks"]);
}

#[test]
fn load_configs_runs_after_the_hooks_unless_a_hook_applies_or_skips_it() {
    let server = Server::start();
    let mut c = server.client();
    let path = hooks_path();
    // `early` applies the values inside the hook, which then sees them.
    let _: () = q(
        &mut c,
        &[
            "MODULE",
            "LOADEX",
            &path,
            "CONFIG",
            "hooks.level",
            "8",
            "ARGS",
            "early",
        ],
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["hooks.args"]),
        ["early", "level=8"]
    );
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "8"]);
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "hooks"]);
    // Without a hook's choice the toolkit applies them after the hooks.
    let _: () = q(
        &mut c,
        &["MODULE", "LOADEX", &path, "CONFIG", "hooks.level", "6"],
    );
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "6"]);
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "hooks"]);
    // `skip`: Redis fails the load of a module with configs, with or without values.
    let e = q_err(
        &mut c,
        &[
            "MODULE",
            "LOADEX",
            &path,
            "CONFIG",
            "hooks.level",
            "4",
            "ARGS",
            "skip",
        ],
    );
    assert!(e.starts_with("ERR"), "{e}");
    assert!(modules(&mut c).is_empty());
    let e = q_err(&mut c, &["MODULE", "LOADEX", &path, "ARGS", "skip"]);
    assert!(e.starts_with("ERR"), "{e}");
    assert!(modules(&mut c).is_empty());
    server.wait_for(
        "Redis's line for a missing LoadConfigs",
        std::time::Duration::from_secs(5),
        |s| s.log().contains("likely a missing LoadConfigs call"),
    );
}

#[test]
fn info_sections_fields_and_dicts() {
    let server = Server::builder().module("loadhooks").start();
    let mut c = server.client();
    let all = info(&mut c, "hooks");
    for line in [
        "# hooks_alloc",
        "hooks_routed:",
        "# hooks_stats",
        "hooks_mode:fast",
        "hooks_delta:-7",
        "hooks_count:18446744073709551615",
        "hooks_ratio:0.25",
        "hooks_db0:keys=3,kind=hash",
        "# hooks\r\n",
        "hooks_applied:",
    ] {
        assert!(
            all.contains(line),
            "{line:?} missing from INFO hooks:\n{all}"
        );
    }
    assert!(
        !all.contains("hooks_only"),
        "crash-report section in INFO:\n{all}"
    );
    let one = info(&mut c, "HOOKS_stats");
    assert!(one.contains("hooks_mode:fast"), "{one}");
    assert!(
        !one.contains("hooks_applied") && !one.contains("hooks_routed"),
        "{one}"
    );
    let everything = info(&mut c, "everything");
    assert!(everything.contains("hooks_db0:keys=3,kind=hash"));
    assert!(!everything.contains("hooks_only"));
    assert!(!info(&mut c, "default").contains("hooks_mode"));
}

#[test]
fn a_module_reads_the_server_info() {
    let server = Server::builder().module("loadhooks").start();
    let mut c = server.client();
    let port = server.port().to_string();
    let v: Vec<Option<String>> = q(&mut c, &["hooks.serverinfo", "server", "tcp_port"]);
    assert_eq!(v[0].as_deref(), Some(port.as_str()));
    assert_eq!(v[1].as_deref(), Some(port.as_str()));
    assert_eq!(v[2].as_deref(), Some(port.as_str()));
    assert_eq!(v[3].as_deref(), Some(port.as_str()));
    let v: Vec<Option<String>> = q(&mut c, &["hooks.serverinfo", "replication", "role"]);
    assert_eq!(v, [Some("master".to_owned()), None, None, None]);
    // A module's own field, and a field of a section not asked for.
    let v: Vec<Option<String>> = q(&mut c, &["hooks.serverinfo", "hooks_stats", "hooks_delta"]);
    assert_eq!(v[0].as_deref(), Some("-7"));
    assert_eq!(v[1].as_deref(), Some("-7"));
    assert_eq!(v[2], None);
    let e = q_err(&mut c, &["hooks.serverinfo", "replication", "tcp_port"]);
    assert!(e.contains("no field tcp_port"), "{e}");
}

#[test]
fn config_flags() {
    let server = Server::start();
    let mut c = server.client();
    let path = hooks_path();
    let _: () = q(
        &mut c,
        &["MODULE", "LOADEX", &path, "CONFIG", "hooks.frozen", "yes"],
    );
    // Immutable: set at load, refused at runtime.
    assert_eq!(config_get(&mut c, "hooks.frozen"), ["hooks.frozen", "yes"]);
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.frozen", "no"]);
    assert!(e.contains("immutable"), "{e}");
    assert_eq!(config_get(&mut c, "hooks.frozen"), ["hooks.frozen", "yes"]);
    // Protected, with enable-protected-configs at its default (no).
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.guarded", "yes"]);
    assert!(e.contains("protected"), "{e}");
    // Hidden from patterns, visible by name.
    let all = config_get(&mut c, "hooks.*");
    assert!(!all.iter().any(|n| n == "hooks.secret"), "{all:?}");
    assert!(all.iter().any(|n| n == "hooks.late"), "{all:?}");
    assert_eq!(
        config_get(&mut c, "hooks.secret"),
        ["hooks.secret", "s3cret"]
    );
    // Memory units.
    let _: () = q(&mut c, &["CONFIG", "SET", "hooks.level", "1kb"]);
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "1024"]);
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.level", "-2"]);
    assert!(e.contains("memory value"), "{e}");
    // Bit flags.
    assert_eq!(
        config_get(&mut c, "hooks.events"),
        ["hooks.events", "read write"]
    );
    let _: () = q(&mut c, &["CONFIG", "SET", "hooks.events", "admin read"]);
    assert_eq!(
        config_get(&mut c, "hooks.events"),
        ["hooks.events", "read admin"]
    );
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.events", "read delete"]);
    assert!(e.starts_with("ERR"), "{e}");
    assert_eq!(
        config_get(&mut c, "hooks.events"),
        ["hooks.events", "read admin"]
    );
}

#[test]
fn validate_and_apply_refuse_with_their_message_and_keep_the_value() {
    let server = Server::builder().module("loadhooks").start();
    let mut c = server.client();
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.secret", "root"]);
    assert!(e.contains("'root' is not allowed as a secret"), "{e}");
    assert_eq!(
        config_get(&mut c, "hooks.secret"),
        ["hooks.secret", "s3cret"]
    );
    let e = q_err(&mut c, &["CONFIG", "SET", "hooks.level", "3"]);
    assert!(e.contains("level must be even, got 3"), "{e}");
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "2"]);

    // on_apply runs after the CONFIG SET stored everything; Err restores all of it.
    let e = q_err(
        &mut c,
        &["CONFIG", "SET", "hooks.level", "100", "hooks.cap", "50"],
    );
    assert!(e.contains("level 100 is over cap 50"), "{e}");
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "2"]);
    assert_eq!(config_get(&mut c, "hooks.cap"), ["hooks.cap", "1048576"]);
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "hooks.level", "40", "hooks.cap", "50"],
    );
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "40"]);
    assert_eq!(config_get(&mut c, "hooks.cap"), ["hooks.cap", "50"]);
}

#[test]
fn values_given_at_load_are_validated_and_applied() {
    let server = Server::start();
    let mut c = server.client();
    let path = hooks_path();
    let e = q_err(
        &mut c,
        &["MODULE", "LOADEX", &path, "CONFIG", "hooks.secret", "root"],
    );
    assert!(e.starts_with("ERR"), "{e}");
    assert!(modules(&mut c).is_empty());
    server.wait_for(
        "the validate message in the log",
        std::time::Duration::from_secs(5),
        |s| s.log().contains("'root' is not allowed as a secret"),
    );
    // The apply callbacks also run at load: a combination they refuse fails the load.
    let e = q_err(
        &mut c,
        &[
            "MODULE",
            "LOADEX",
            &path,
            "CONFIG",
            "hooks.level",
            "100",
            "CONFIG",
            "hooks.cap",
            "50",
        ],
    );
    assert!(e.starts_with("ERR"), "{e}");
    assert!(config_get(&mut c, "hooks.*").is_empty());
    server.wait_for(
        "the apply message in the log",
        std::time::Duration::from_secs(5),
        |s| s.log().contains("level 100 is over cap 50"),
    );
    let _: () = q(
        &mut c,
        &[
            "MODULE",
            "LOADEX",
            &path,
            "CONFIG",
            "hooks.level",
            "40",
            "CONFIG",
            "hooks.cap",
            "50",
        ],
    );
    assert_eq!(config_get(&mut c, "hooks.level"), ["hooks.level", "40"]);
    let applied = info(&mut c, "hooks");
    assert!(
        applied.contains("hooks_applied:1\r\n"),
        "one distinct apply at load:\n{applied}"
    );
}

#[test]
fn infotest_port_sections_and_reads() {
    let server = Server::builder()
        .module_with_args("conformance-infotest", &["log-key", "0"])
        .start();
    let mut c = server.client();
    assert_eq!(
        q::<String>(&mut c, &["info.gets", "replication", "role"]),
        "master"
    );
    assert_eq!(
        q::<i64>(&mut c, &["info.geti", "infotest", "infotest_global"]),
        -2
    );
    assert_eq!(
        q::<i64>(&mut c, &["info.getu", "infotest", "infotest_uglobal"]),
        -2
    );
    let tre: f64 = q(&mut c, &["info.getd", "infotest_italian", "infotest_tre"]);
    assert!((tre - 3.3).abs() < 1e-9, "{tre}");
    let e = q_err(&mut c, &["info.gets", "badname", "redis_version"]);
    assert!(e.contains("not found"), "{e}");
    let dict = info(&mut c, "infotest_keyspace");
    assert!(dict.contains("infotest_db0:keys=3,expires=1"), "{dict}");
    let unsafe_field = info(&mut c, "infotest_unsafe");
    assert!(
        unsafe_field.contains("infotest_unsafe_field:value=1"),
        "{unsafe_field}"
    );
    assert!(!info(&mut c, "everything").contains("Klingon"));
}

#[test]
fn moduleconfigs_ports_behave_like_the_c_modules() {
    let server = Server::start();
    let mut c = server.client();
    let one = module_path("conformance-moduleconfigs")
        .to_string_lossy()
        .into_owned();
    let two = module_path("conformance-moduleconfigstwo")
        .to_string_lossy()
        .into_owned();
    let _: () = q(&mut c, &["MODULE", "LOAD", &one]);
    assert_eq!(
        config_get(&mut c, "moduleconfigs.flags"),
        ["moduleconfigs.flags", "one two"]
    );
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "moduleconfigs.flags", "one two four"],
    );
    assert_eq!(
        config_get(&mut c, "moduleconfigs.flags"),
        ["moduleconfigs.flags", "five two"]
    );
    let e = q_err(
        &mut c,
        &["CONFIG", "SET", "moduleconfigs.string", "RejectIsFreed"],
    );
    assert!(e.contains("Cannot set string to 'rejectisfreed'"), "{e}");
    let e = q_err(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "moduleconfigs.memory_numeric",
            "1000",
            "moduleconfigs.numeric",
            "1000",
        ],
    );
    assert!(e.contains("cannot equal"), "{e}");
    assert_eq!(
        config_get(&mut c, "moduleconfigs.numeric"),
        ["moduleconfigs.numeric", "-1"]
    );
    let _: () = q(
        &mut c,
        &["MODULE", "LOADEX", &two, "CONFIG", "configs.test", "no"],
    );
    assert_eq!(config_get(&mut c, "configs.test"), ["configs.test", "no"]);
    let _: () = q(&mut c, &["MODULE", "UNLOAD", "moduleconfigs"]);
    let e = q_err(
        &mut c,
        &[
            "MODULE",
            "LOADEX",
            &one,
            "CONFIG",
            "moduleconfigs.string",
            "cool",
            "ARGS",
            "noload",
        ],
    );
    assert!(e.starts_with("ERR"), "{e}");
    assert!(config_get(&mut c, "moduleconfigs.*").is_empty());
    assert_eq!(config_get(&mut c, "configs.test"), ["configs.test", "no"]);
}
