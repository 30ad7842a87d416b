//! Port of Redis 7.0's `tests/modules/cmdintrospection.c`: a module command whose `COMMAND
//! INFO` and `COMMAND DOCS` are those of `XADD` (apart from ACL categories, the `module` flag
//! and the group), from one declaration.
#![forbid(unsafe_code)]

use rmkit::command::Rest;
use rmkit::command::docs::{Arg, BeginSearch, FindKeys, KeySpec};
use rmkit::prelude::*;

rmkit::module! { name: "cmdintrospection", version: 1 }

const KEY_SPECS: &[KeySpec] = &[KeySpec::new(
    "RW update",
    BeginSearch::Index(1),
    FindKeys::Range {
        last_key: 0,
        step: 1,
        limit: 0,
    },
)
.with_notes("UPDATE instead of INSERT because of the optional trimming feature")];

const ARGS: &[Arg] = &[
    Arg::key("key", 0),
    Arg::token("NOMKSTREAM")
        .named("nomkstream")
        .since("6.2.0")
        .optional(),
    Arg::block(
        "trim",
        &[
            Arg::one_of(
                "strategy",
                &[
                    Arg::token("MAXLEN").named("maxlen"),
                    Arg::token("MINID").named("minid").since("6.2.0"),
                ],
            ),
            Arg::one_of(
                "operator",
                &[
                    Arg::token("=").named("equal"),
                    Arg::token("~").named("approximately"),
                ],
            )
            .optional(),
            Arg::string("threshold"),
            Arg::integer("count")
                .with_token("LIMIT")
                .since("6.2.0")
                .optional(),
        ],
    )
    .optional(),
    Arg::one_of(
        "id_or_auto",
        &[Arg::token("*").named("auto_id"), Arg::string("id")],
    ),
    Arg::block("field_value", &[Arg::string("field"), Arg::string("value")]).multiple(),
];

// NOTE: the versions are Redis's, to compare with XADD's (a module gives its own).
const HISTORY: &[(&str, &str)] = &[
    (
        "6.2.0",
        "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option.",
    ),
    ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
];

/// Appends a new entry to a stream
#[rmkit::command(
    name = "cmdintrospection.xadd",
    flags = "write deny-oom random fast",
    since = "5.0.0",
    complexity = "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
    tips = "nondeterministic_output",
    arity = -5,
    key_specs = KEY_SPECS,
    args = ARGS,
    history = HISTORY
)]
fn xadd(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}
