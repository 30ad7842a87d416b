//! Misuse that the compiler can see is a compile error that says what to write instead: each
//! `tests/ui/*.rs` must fail to compile with exactly the error in its `.stderr`.
//! (`TRYBUILD=overwrite cargo test -p rmkit --test ui` rewrites them after a wording change.)

#[test]
fn misuse_fails_to_compile_with_a_useful_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
