#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rmkit_fuzz_targets::glob(data));
