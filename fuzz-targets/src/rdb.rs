//! The `rdb_load` target: the json data type's RDB loader on arbitrary bytes.

use rmkit::datatype::DataType;
use rmkit::datatype::{RdbReader, RdbWriter};
use rmkit_json::Json;

/// Inputs longer than this are ignored (loading is linear in the input; this keeps it fast).
const MAX_INPUT: usize = 64 * 1024;

/// The `rdb_load` target: the input as a saved `Json` value in [`RdbWriter::to_buffer`]'s
/// framing (e.g. `05` + 8-byte little-endian length + JSON text), loaded with every encoding
/// version the type accepts (`0..=Json::ENCODING_VERSION`) through
/// [`RdbReader::from_bytes`]. Properties:
/// - loading returns `Ok` or `Err`, never panics (nor over-allocates: a length prefix beyond
///   the input is refused before anything is allocated; libFuzzer's `-malloc_limit_mb` in
///   `run-all.sh` catches a loader that allocates more);
/// - a loaded value saved again loads back equal, and saving that gives identical bytes;
/// - the loader reads everything it saved: its saved bytes minus the last one do not load.
///
/// Only the `DataType` methods and `PartialEq`/`Debug` of `Json` are used, so the target holds
/// whatever the json module's value representation is.
pub fn rdb_load(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    for version in 0..=Json::ENCODING_VERSION {
        let Ok(value) = Json::rdb_load(&mut RdbReader::from_bytes(data), version) else {
            continue;
        };
        let saved = save(&value);
        let again = match Json::rdb_load(&mut RdbReader::from_bytes(&saved), version) {
            Ok(again) => again,
            Err(e) => panic!(
                "a saved value does not load (version {version}): {e:?}\nvalue: {value:?}\nsaved: {}",
                String::from_utf8_lossy(&saved)
            ),
        };
        assert!(
            again == value,
            "save/load changed the value (version {version})\nvalue: {value:?}\nagain: {again:?}"
        );
        assert_eq!(
            save(&again),
            saved,
            "saving is not stable (version {version})"
        );
        let Some((_, cut)) = saved.split_last() else {
            continue; // nothing saved, nothing to cut
        };
        if let Ok(partial) = Json::rdb_load(&mut RdbReader::from_bytes(cut), version) {
            panic!(
                "the saved value loads without its last byte (version {version}): the loader \
                 does not read everything rdb_save wrote\nvalue:   {value:?}\npartial: {partial:?}"
            );
        }
    }
}

fn save(value: &Json) -> Vec<u8> {
    let mut buf = Vec::new();
    value.rdb_save(&mut RdbWriter::to_buffer(&mut buf));
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds in `fuzz/corpus/rdb_load/` are written by hand in the documented framing:
    /// these must load (so the fuzzer starts from values that reach the round trip), the
    /// others must not.
    #[test]
    fn hand_made_seeds_load_as_named() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/rdb_load");
        let loads = |name: &str| {
            let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            Json::rdb_load(&mut RdbReader::from_bytes(&data), 0).is_ok()
        };
        for name in [
            "object",
            "array",
            "string-escapes",
            "number-max",
            "number-negative-zero",
            "scalar-null",
            "deep-127",
            "trailing-bytes",
        ] {
            assert!(loads(name), "{name} should load");
        }
        for name in [
            "deep-128",
            "empty",
            "empty-string",
            "invalid-json",
            "truncated",
            "truncated-length",
            "huge-length",
            "length-2-pow-40",
            "integer-tag",
            "double-tag",
            "shorter-length",
        ] {
            assert!(!loads(name), "{name} should not load");
        }
    }
}
