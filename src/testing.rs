//! Shared settings for the property tests: bounded shrinking, and a fixed seed on CI.

use proptest::test_runner::{Config, RngSeed};

/// Seed used under `CI` when `PROPTEST_RNG_SEED` is not set, so that a CI run is
/// reproducible; developers' runs stay random and explore further.
const CI_SEED: u64 = 0x0f7b_7ace;

/// A proptest configuration with `cases` cases whose shrinking is bounded in time and
/// iterations: a failure on a large input (a 30 KB stream) reports within a minute
/// instead of shrinking for hours.
pub(crate) fn prop_config(cases: u32) -> Config {
    let mut c = Config::with_cases(cases);
    c.max_shrink_time = 30_000;
    c.max_shrink_iters = c.max_shrink_iters.min(4_096);
    if std::env::var_os("CI").is_some() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(CI_SEED);
    }
    c
}
