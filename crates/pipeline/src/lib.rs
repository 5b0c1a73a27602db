//! The domain-agnostic pipeline engine.
pub mod stage;
