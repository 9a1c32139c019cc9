//! The checkpoint loader's parsing and matching (`checkpoint::match_bytes`), against a small
//! fixed model layout. The GPU assignment that follows a successful match is not fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let expected = vec![
        ("embed.weight".to_string(), vec![4, 3]),
        ("embed.bias".to_string(), vec![4]),
        ("head.weight".to_string(), vec![2, 4]),
    ];
    if let Ok((values, _meta)) = fastshap::checkpoint::match_bytes("fuzz", data, &expected) {
        // A match must hand back exactly the expected number of values per tensor.
        for (v, (_, shape)) in values.iter().zip(&expected) {
            assert_eq!(v.len(), shape.iter().product::<usize>());
        }
    }
});
