//! Constructors for the parameter specs stage kinds declare (shared by every section's kinds).

use pipeline::stage::{ParamSpec, ParamType};

/// A float parameter with a default.
pub fn float(name: &'static str, default: f64, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Float {
            min: None,
            max: None,
        },
        doc,
    )
    .with_default(default)
}

/// A non-negative integer parameter with a default.
pub fn int(name: &'static str, default: i64, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Int {
            min: Some(0),
            max: None,
        },
        doc,
    )
    .with_default(default)
}

/// A string parameter restricted to `choices`, with a default.
pub fn choice(
    name: &'static str,
    choices: &[&'static str],
    default: &str,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Str {
            choices: Some(choices.to_vec()),
        },
        doc,
    )
    .with_default(default)
}

/// A free string parameter with a default.
pub fn string(name: &'static str, default: &str, doc: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::Str { choices: None }, doc).with_default(default)
}

/// A list of non-negative integers with a default.
pub fn int_vec(name: &'static str, default: Vec<i64>, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::IntVec {
            min: Some(0),
            max: None,
        },
        doc,
    )
    .with_default(default)
}

/// A vector-of-floats parameter with a default.
pub fn float_vec(name: &'static str, default: Vec<f64>, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::FloatVec {
            len: None,
            min: None,
            max: None,
        },
        doc,
    )
    .with_default(default)
}
