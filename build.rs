//! The crate's implementation fingerprint, derived from the crate graph (see the `fingerprint` crate).

fn main() {
    fingerprint::emit();
}
