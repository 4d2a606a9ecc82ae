//! Determinism across threads and orders: the smoke set run on one thread in catalog order and on
//! two threads in reverse order gives the same digest for every variant.

use std::path::PathBuf;

use rayon::prelude::*;

use autonomy_stack::{FrozenClock, StackConfig};

#[test]
fn digests_do_not_depend_on_threads_or_order() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // Loaded as the farm loads it: maps attached, so a smoke scenario on a map really drives.
    let loaded = server::infra::catalog_files::load(&[root.join("catalog")], None);
    let catalog = &loaded.catalog;
    let variants: Vec<_> = catalog
        .scenarios
        .iter()
        .filter(|s| s.template().metadata.tags.iter().any(|t| t == "smoke"))
        .flat_map(|s| s.variants().iter().take(2))
        .collect();
    assert!(variants.len() >= 10);
    let config = StackConfig::default();
    let sequential: Vec<(String, String)> = variants
        .iter()
        .map(|v| (v.key.to_string(), sim_core::run_variant(v, &config, &mut FrozenClock).digest))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut parallel: Vec<(String, String)> = pool.install(|| {
        variants
            .par_iter()
            .rev()
            .map(|v| (v.key.to_string(), sim_core::run_variant(v, &config, &mut FrozenClock).digest))
            .collect()
    });
    parallel.reverse();
    assert_eq!(sequential, parallel);
}
