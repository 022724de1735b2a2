#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zeroipc_fuzz::hostile_ops(data));
