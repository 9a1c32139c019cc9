//! Seeded mixing has one home (`fastshap::seed::Mixer`); each caller's starting constant must
//! give the seeds its private copy gave, or recorded runs would not reproduce.

use fastshap::seed::Mixer;

/// Parts as the callers pass them: none, one, (seed, epoch, purpose, batch), u64::MAX markers.
const PARTS: [&[u64]; 5] = [
    &[],
    &[0],
    &[42, 3, 1, 7],
    &[7, u64::MAX, 5],
    &[123456789, 2, 17, 2],
];

/// Values of the copies that lived in data/loader.rs, train/trainer.rs and fastshap/mod.rs,
/// computed with those functions before they were replaced.
#[test]
fn every_caller_gets_the_seeds_of_its_old_copy() {
    let expected: [(Mixer, [u64; 5]); 3] = [
        (
            Mixer::LOADER,
            [
                0x9e3779b97f4a7c15,
                0x6e789e6aa1b965f4,
                0xdcdfeb9486e3c468,
                0xf0a8c0872c6b8c64,
                0xfbddc73bb453d09c,
            ],
        ),
        (
            Mixer::TRAINER,
            [
                0x243f6a8885a308d3,
                0x2cb0f69f4abea221,
                0x677f77b1d0a81334,
                0x649be19e0f4c25de,
                0xc5dfe315708fa5b2,
            ],
        ),
        (
            Mixer::FASTSHAP,
            [
                0x6a09e667f3bcc908,
                0x1ac046dda8e86e2a,
                0xe63630704dc538e7,
                0x61460851720e7343,
                0xee58262ad33139c4,
            ],
        ),
    ];
    for (mixer, values) in expected {
        for (parts, want) in PARTS.iter().zip(values) {
            assert_eq!(mixer.mix(parts), want, "{mixer:?} of {parts:?}");
        }
    }
}

/// The three callers' streams stay apart: the same parts give different seeds.
#[test]
fn callers_streams_differ() {
    let parts = [42, 0, 1, 0];
    let seeds = [Mixer::LOADER, Mixer::TRAINER, Mixer::FASTSHAP].map(|m| m.mix(&parts));
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2] && seeds[0] != seeds[2]);
}
