#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::decoders::udp_envelope(data));
