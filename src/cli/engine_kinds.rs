//! The stage kinds this binary knows: one line per crate that implements kinds.

use pipeline::Registry;

/// Every kind `pipeline.toml` may name. Add a crate's kinds with one line here.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    // Always present: tiny kinds that the integration tests and `bench-engine` drive.
    pipeline::toy::register(&mut registry);
    registry.register(crate::cli::toy_claim::ToyClaim);
    for kinds in [
        stagekit::kinds(),
        compute::kinds(),
        analysis::kinds(),
        page::kinds(),
    ] {
        for kind in kinds {
            registry.register_boxed(kind);
        }
    }
    registry
}
