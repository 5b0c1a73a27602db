//! Implementation fingerprints of stage kinds, from digests computed by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/fingerprints.rs"));

/// Files every stage kind depends on: the shared table, claim, figure-index and parameter-spec code.
pub const COMMON: &[&str] = &[
    "lib.rs",
    "error.rs",
    "fingerprint.rs",
    "table.rs",
    "claims.rs",
    "artifacts.rs",
    "params.rs",
];

/// Digest of the source files under the given `src/`-relative prefixes (plus the common files) and of
/// the named domain crates. Editing any of them changes the fingerprint of the kinds that list them,
/// and nothing else.
pub fn of(prefixes: &[&str], crates: &[&str]) -> String {
    let mut hasher = blake3::Hasher::new();
    for (path, digest) in FILES {
        let listed =
            COMMON.contains(path) || prefixes.iter().any(|prefix| path.starts_with(prefix));
        if listed {
            hasher.update(path.as_bytes());
            hasher.update(digest.as_bytes());
        }
    }
    for name in crates {
        let (_, digest) = CRATES
            .iter()
            .find(|(crate_name, _)| crate_name == name)
            .unwrap_or_else(|| panic!("fingerprint: unknown crate {name:?}"));
        hasher.update(name.as_bytes());
        hasher.update(digest.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// `fingerprint!(["section3/train.rs"], ["numerics"])` — a `&'static str` computed once.
#[macro_export]
macro_rules! fingerprint {
    ([$($prefix:literal),* $(,)?], [$($krate:literal),* $(,)?]) => {{
        static FINGERPRINT: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $crate::fingerprint::of(&[$($prefix),*], &[$($krate),*]));
        FINGERPRINT.as_str()
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_by_listed_code_and_are_stable() {
        let numerics = of(&[], &["numerics"]);
        let figures = of(&[], &["figures"]);
        assert_ne!(numerics, figures);
        assert_eq!(numerics, of(&[], &["numerics"]));
        assert_eq!(numerics.len(), 64);
    }

    #[test]
    fn every_file_of_the_crate_is_digested() {
        assert!(FILES.iter().any(|(path, _)| *path == "fingerprint.rs"));
        assert!(
            COMMON
                .iter()
                .all(|common| FILES.iter().any(|(path, _)| path == common))
        );
    }
}
