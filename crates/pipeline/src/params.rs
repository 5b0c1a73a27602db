//! Parameter validation against a kind's schema, sweep expansion and canonical encoding for keys.

use serde_json::{Map, Value};

use crate::stage::{ParamSpec, ParamType};

/// One setting of a parameter: a single value, or a sweep axis (one task per value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Setting {
    Fixed(Value),
    Sweep(Vec<Value>),
}

fn toml_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn expected(ty: &ParamType) -> &'static str {
    match ty {
        ParamType::Bool => "a boolean",
        ParamType::Int { .. } => "an integer",
        ParamType::Float { .. } => "a number",
        ParamType::Str { .. } => "a string",
        ParamType::FloatVec { .. } => "an array of numbers",
        ParamType::IntVec { .. } => "an array of integers",
        ParamType::StrVec => "an array of strings",
        ParamType::Any => "any value",
    }
}

fn mismatch(ty: &ParamType, found: &toml::Value) -> String {
    format!("expected {}, found {}", expected(ty), toml_type(found))
}

fn check_int(value: i64, min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    if let Some(min) = min.filter(|min| value < *min) {
        return Err(format!("value {value} is out of range (minimum {min})"));
    }
    if let Some(max) = max.filter(|max| value > *max) {
        return Err(format!("value {value} is out of range (maximum {max})"));
    }
    Ok(())
}

fn as_float(value: &toml::Value, ty: &ParamType) -> Result<f64, String> {
    match value {
        toml::Value::Float(x) => Ok(*x),
        // An integer literal where a float is expected is the same number: `1` and `1.0` are one task.
        toml::Value::Integer(i) => Ok(*i as f64),
        other => Err(mismatch(ty, other)),
    }
}

fn check_float(value: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("value {value} is not finite"));
    }
    if let Some(min) = min.filter(|min| value < *min) {
        return Err(format!("value {value} is out of range (minimum {min})"));
    }
    if let Some(max) = max.filter(|max| value > *max) {
        return Err(format!("value {value} is out of range (maximum {max})"));
    }
    Ok(())
}

fn float_json(value: f64) -> Value {
    serde_json::Number::from_f64(value)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Validate one (non-sweep) value and convert it to its canonical JSON form.
pub(crate) fn check_value(spec: &ParamSpec, value: &toml::Value) -> Result<Value, String> {
    let ty = &spec.ty;
    match ty {
        ParamType::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| mismatch(ty, value)),
        ParamType::Int { min, max } => {
            let int = value.as_integer().ok_or_else(|| mismatch(ty, value))?;
            check_int(int, *min, *max)?;
            Ok(Value::from(int))
        }
        ParamType::Float { min, max } => {
            let x = as_float(value, ty)?;
            check_float(x, *min, *max)?;
            Ok(float_json(x))
        }
        ParamType::Str { choices } => {
            let text = value.as_str().ok_or_else(|| mismatch(ty, value))?;
            if let Some(choices) = choices
                && !choices.contains(&text)
            {
                return Err(format!(
                    "value \"{text}\" is not one of {}",
                    choices.join(", ")
                ));
            }
            Ok(Value::from(text))
        }
        ParamType::FloatVec { len, min, max } => {
            let items = value.as_array().ok_or_else(|| mismatch(ty, value))?;
            if let Some(len) = len.filter(|len| *len != items.len()) {
                return Err(format!("expected {len} elements, found {}", items.len()));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let x = as_float(item, ty)?;
                check_float(x, *min, *max)?;
                out.push(float_json(x));
            }
            Ok(Value::Array(out))
        }
        ParamType::IntVec { min, max } => {
            let items = value.as_array().ok_or_else(|| mismatch(ty, value))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let int = item.as_integer().ok_or_else(|| mismatch(ty, value))?;
                check_int(int, *min, *max)?;
                out.push(Value::from(int));
            }
            Ok(Value::Array(out))
        }
        ParamType::StrVec => {
            let items = value.as_array().ok_or_else(|| mismatch(ty, value))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(Value::from(
                    item.as_str().ok_or_else(|| mismatch(ty, value))?,
                ));
            }
            Ok(Value::Array(out))
        }
        ParamType::Any => serde_json::to_value(value).map_err(|error| error.to_string()),
    }
}

fn is_vector(ty: &ParamType) -> bool {
    matches!(
        ty,
        ParamType::FloatVec { .. } | ParamType::IntVec { .. } | ParamType::StrVec
    )
}

/// Classify a value from the file: a list where the schema expects a scalar (or a list of lists where
/// it expects a vector) is a sweep, allowed only for sweepable parameters.
pub(crate) fn classify(spec: &ParamSpec, value: &toml::Value) -> Result<Setting, String> {
    let is_sweep = match (&spec.ty, value) {
        (ParamType::Any, _) => false,
        (ty, toml::Value::Array(items)) if is_vector(ty) => {
            !items.is_empty() && items.iter().all(toml::Value::is_array)
        }
        (_, toml::Value::Array(_)) => true,
        _ => false,
    };
    if !is_sweep {
        return check_value(spec, value).map(Setting::Fixed);
    }
    if !spec.sweepable {
        return Err(format!(
            "{}; this parameter cannot be swept",
            mismatch(&spec.ty, value)
        ));
    }
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return Err("a sweep needs at least one value".into());
    }
    let values = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            check_value(spec, item).map_err(|reason| format!("sweep value {index}: {reason}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Setting::Sweep(values))
}

/// Expand settings into one parameter object per task: the cartesian product of the sweep axes
/// (keys in sorted order, the first key varying slowest), or, with `zip`, the i-th value of every
/// axis together (all axes must have the same length).
pub(crate) fn expand(
    settings: &[(String, Setting)],
    zip: bool,
) -> Result<Vec<Map<String, Value>>, String> {
    let mut base = Map::new();
    let mut axes: Vec<(&str, &[Value])> = Vec::new();
    for (name, setting) in settings {
        match setting {
            Setting::Fixed(value) => {
                base.insert(name.clone(), value.clone());
            }
            Setting::Sweep(values) => axes.push((name, values)),
        }
    }
    axes.sort_by(|a, b| a.0.cmp(b.0));
    if zip {
        let Some(len) = axes.first().map(|axis| axis.1.len()) else {
            return Ok(vec![base]);
        };
        if let Some((name, values)) = axes.iter().find(|axis| axis.1.len() != len) {
            return Err(format!(
                "zip sweep needs equal lengths: `{}` has {len} values but `{name}` has {}",
                axes[0].0,
                values.len()
            ));
        }
        return Ok((0..len)
            .map(|index| {
                let mut point = base.clone();
                for (name, values) in &axes {
                    point.insert((*name).to_string(), values[index].clone());
                }
                point
            })
            .collect());
    }
    let mut points = vec![base];
    for (name, values) in &axes {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for point in &points {
            for value in *values {
                let mut extended = point.clone();
                extended.insert((*name).to_string(), value.clone());
                next.push(extended);
            }
        }
        points = next;
    }
    Ok(points)
}

/// Append the canonical encoding of `value`: type-tagged, length-prefixed, object keys sorted,
/// floats by their exact bit pattern (so `0.10` and `0.1` encode identically and `1.0` differs
/// from the integer `1` only where the schema did not already make it a float).
pub fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(b'n'),
        Value::Bool(flag) => out.push(if *flag { b't' } else { b'f' }),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                out.push(b'i');
                out.extend_from_slice(&int.to_le_bytes());
            } else if let Some(int) = number.as_u64() {
                out.push(b'u');
                out.extend_from_slice(&int.to_le_bytes());
            } else {
                out.push(b'd');
                out.extend_from_slice(&number.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        Value::String(text) => {
            out.push(b's');
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.push(b'a');
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                canonical(item, out);
            }
        }
        Value::Object(map) => {
            out.push(b'o');
            out.extend_from_slice(&(map.len() as u64).to_le_bytes());
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                out.extend_from_slice(&(key.len() as u64).to_le_bytes());
                out.extend_from_slice(key.as_bytes());
                canonical(item, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ty: ParamType) -> ParamSpec {
        ParamSpec::new("x", ty, "test").sweepable()
    }

    fn toml_value(text: &str) -> toml::Value {
        let table: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        table["v"].clone()
    }

    fn encoded(spec: &ParamSpec, text: &str) -> Vec<u8> {
        let Setting::Fixed(value) = classify(spec, &toml_value(text)).unwrap() else {
            panic!("expected a fixed value")
        };
        let mut out = Vec::new();
        canonical(&value, &mut out);
        out
    }

    #[test]
    fn float_spelling_does_not_matter_but_value_does() {
        let float = spec(ParamType::Float {
            min: None,
            max: None,
        });
        assert_eq!(encoded(&float, "0.10"), encoded(&float, "0.1"));
        assert_eq!(encoded(&float, "1"), encoded(&float, "1.0"));
        assert_eq!(encoded(&float, "1e-1"), encoded(&float, "0.1"));
        assert_ne!(
            encoded(&float, "0.1"),
            encoded(&float, "0.1000000000000001")
        );
    }

    #[test]
    fn object_key_order_does_not_matter() {
        let a: Value = serde_json::json!({"b": 1, "a": [1.5, "x"]});
        let b: Value = serde_json::json!({"a": [1.5, "x"], "b": 1});
        let (mut left, mut right) = (Vec::new(), Vec::new());
        canonical(&a, &mut left);
        canonical(&b, &mut right);
        assert_eq!(left, right);
        let c: Value = serde_json::json!({"a": [1.5, "x"], "b": 2});
        let mut other = Vec::new();
        canonical(&c, &mut other);
        assert_ne!(left, other);
    }

    #[test]
    fn lists_are_sweeps_for_scalars_and_lists_of_lists_for_vectors() {
        let int = spec(ParamType::Int {
            min: Some(0),
            max: None,
        });
        assert_eq!(
            classify(&int, &toml_value("[1, 2]")).unwrap(),
            Setting::Sweep(vec![Value::from(1), Value::from(2)])
        );
        let vector = spec(ParamType::FloatVec {
            len: Some(2),
            min: None,
            max: None,
        });
        assert!(matches!(
            classify(&vector, &toml_value("[1, 2]")).unwrap(),
            Setting::Fixed(_)
        ));
        assert!(matches!(
            classify(&vector, &toml_value("[[1, 2], [3, 4]]")).unwrap(),
            Setting::Sweep(values) if values.len() == 2
        ));
        let error = classify(&int, &toml_value("[1, -2]")).unwrap_err();
        assert!(error.contains("out of range"), "{error}");
        let fixed = ParamSpec::new("x", ParamType::Bool, "not sweepable");
        assert!(
            classify(&fixed, &toml_value("[true, false]"))
                .unwrap_err()
                .contains("cannot be swept")
        );
    }

    #[test]
    fn grid_is_the_cartesian_product_and_zip_pairs_values() {
        let settings = vec![
            (
                "b".to_string(),
                Setting::Sweep(vec![Value::from(1), Value::from(2), Value::from(3)]),
            ),
            (
                "a".to_string(),
                Setting::Sweep(vec![Value::from("x"), Value::from("y")]),
            ),
            ("c".to_string(), Setting::Fixed(Value::from(true))),
        ];
        let grid = expand(&settings, false).unwrap();
        assert_eq!(grid.len(), 6);
        // `a` sorts first, so it varies slowest.
        assert_eq!(grid[0]["a"], "x");
        assert_eq!(grid[2]["b"], 3);
        assert_eq!(grid[3]["a"], "y");
        assert!(grid.iter().all(|point| point["c"] == true));
        let error = expand(&settings, true).unwrap_err();
        assert!(error.contains("equal lengths"), "{error}");
        let zipped = expand(&settings[1..], true).unwrap();
        assert_eq!(zipped.len(), 2);
    }
}
