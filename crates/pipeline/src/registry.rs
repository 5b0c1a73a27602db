//! The registry of stage kinds the binary knows.

use std::collections::BTreeMap;

use crate::stage::StageKind;

/// Every stage kind available to `pipeline.toml`, by name.
#[derive(Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Box<dyn StageKind>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a kind under its [`StageKind::name`].
    ///
    /// # Panics
    /// Panics if a kind of that name is already registered: two implementations behind one name
    /// is a wiring bug in the binary, not a runtime condition.
    pub fn register(&mut self, kind: impl StageKind) -> &mut Self {
        let name = kind.name();
        let previous = self.kinds.insert(name, Box::new(kind));
        assert!(previous.is_none(), "stage kind `{name}` registered twice");
        self
    }

    /// Register an already boxed kind (crates hand their kinds over as `Vec<Box<dyn StageKind>>`).
    ///
    /// # Panics
    /// As [`Registry::register`], if the name is taken.
    pub fn register_boxed(&mut self, kind: Box<dyn StageKind>) -> &mut Self {
        let name = kind.name();
        let previous = self.kinds.insert(name, kind);
        assert!(previous.is_none(), "stage kind `{name}` registered twice");
        self
    }

    pub fn get(&self, name: &str) -> Option<&dyn StageKind> {
        self.kinds.get(name).map(Box::as_ref)
    }

    /// Registered kind names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}
