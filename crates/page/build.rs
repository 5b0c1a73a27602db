//! The crate's implementation fingerprint, derived from the crate graph (see the `fingerprint` crate),
//! and the versions of the toolchain and main dependencies the page shows as provenance.

fn main() {
    fingerprint::emit();
    fingerprint::emit_versions(&[
        "polars",
        "plotters",
        "tera",
        "burn",
        "clarabel",
        "rayon",
        "blake3",
        "indicatif",
    ]);
}
