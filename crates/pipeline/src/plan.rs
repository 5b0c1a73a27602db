//! The plan: stages in dependency order, expanded into tasks, each with its content key.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::{Map, Value};

use crate::config::{Config, StageConfig};
use crate::error::{Error, Result};
use crate::params::{self, Setting};
use crate::registry::Registry;
use crate::stage::{ParamSchema, ParamType, StageKind, WORK_BOUND};

/// Version of the key derivation; bump it when the encoding below changes.
pub const KEY_FORMAT: &str = "minorfirst-task-key/1";

/// Command-line choices that change parameters: a profile and `--set stage.key=value` overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub profile: Option<String>,
    /// Raw `stage.key=value` arguments: the value read by the parameter's declared type (a number,
    /// `true`/`false`, plain text for a string, comma-separated values for a list or a sweep), or as
    /// TOML when written in TOML's syntax for strings, arrays and tables (`"…"`, `[…]`).
    pub sets: Vec<String>,
    /// Accept tasks whose [`crate::StageKind::work`] exceeds
    /// [`WORK_BOUND`] (`--allow-large-work`); by default they are a configuration error.
    pub allow_large_work: bool,
    /// Replace every seed by a disjoint one (`verify --reseed`): each task parameter named
    /// [`SEED_PARAMS`] — an integer, or a list of integers — has this offset added after profiles,
    /// `--set`s and defaults are resolved. Tasks that take no seed (and do not depend on one) keep
    /// their keys, so only seeded work is recomputed, and paired designs stay paired (every seed of a
    /// task moves by the same offset).
    pub reseed: Option<u64>,
}

/// Task parameter names that are seeds, for [`Overrides::reseed`]: `seed` (a scalar, usually a sweep
/// axis) and `seeds` (a list of integers).
pub const SEED_PARAMS: [&str; 2] = ["seed", "seeds"];

/// Adds `offset` to every seed parameter of `point` (see [`Overrides::reseed`]); errors name the
/// parameter when a shifted seed would overflow.
fn reseed_point(point: &mut Map<String, Value>, offset: u64) -> std::result::Result<(), String> {
    let shift = |value: &mut Value, name: &str| -> std::result::Result<(), String> {
        if let Some(seed) = value.as_i64() {
            let shifted = i64::try_from(offset)
                .ok()
                .and_then(|offset| seed.checked_add(offset))
                .ok_or_else(|| {
                    format!("seed parameter `{name}` = {seed} overflows when shifted by {offset}")
                })?;
            *value = Value::from(shifted);
        }
        Ok(())
    };
    for name in SEED_PARAMS {
        match point.get_mut(name) {
            Some(Value::Array(seeds)) => {
                for seed in seeds {
                    shift(seed, name)?;
                }
            }
            Some(value) => shift(value, name)?,
            None => {}
        }
    }
    Ok(())
}

/// One stage of the plan.
#[derive(Debug, Clone)]
pub struct StagePlan {
    pub name: String,
    pub kind: &'static str,
    pub deps: Vec<String>,
    pub foreach: Option<String>,
    /// Indices of this stage's tasks in [`Plan::tasks`] (contiguous).
    pub tasks: Range<usize>,
}

/// One task: a stage at one sweep point.
#[derive(Debug, Clone)]
pub struct Task {
    /// Index in [`Plan::tasks`].
    pub id: usize,
    /// Index in [`Plan::stages`].
    pub stage: usize,
    /// Position of this task within its stage (its stable identity for `status`).
    pub index: usize,
    pub kind: &'static str,
    pub fingerprint: &'static str,
    /// Resolved parameters: every declared parameter, canonical JSON.
    pub params: Value,
    /// Tasks whose artifacts this task consumes, in plan order.
    pub deps: Vec<usize>,
    /// Content key (hex blake3).
    pub key: String,
}

/// The expanded, validated DAG of tasks.
#[derive(Debug, Clone)]
pub struct Plan {
    stages: Vec<StagePlan>,
    tasks: Vec<Task>,
    pub profile: Option<String>,
}

struct Override {
    stage: String,
    key: String,
    value: toml::Value,
    origin: Origin,
}

enum Origin {
    Profile(String),
    Set(String),
}

impl Plan {
    /// Validate `config` against the registered kinds, apply the profile and `--set` overrides,
    /// expand sweeps and compute every task's key.
    pub fn build(registry: &Registry, config: &Config, overrides: &Overrides) -> Result<Plan> {
        let by_name: BTreeMap<&str, &StageConfig> = config
            .stages
            .iter()
            .map(|stage| (stage.name.as_str(), stage))
            .collect();
        let mut schemas = BTreeMap::new();
        for stage in &config.stages {
            let Some(kind) = registry.get(&stage.kind) else {
                return Err(config.error_at(
                    &["stage", &stage.name, "kind"],
                    Some(&stage.name),
                    Some("kind"),
                    format!(
                        "unknown kind `{}` (known kinds: {})",
                        stage.kind,
                        registry.names().join(", ")
                    ),
                ));
            };
            schemas.insert(stage.name.as_str(), kind.schema());
            for dep in &stage.deps {
                if !by_name.contains_key(dep.as_str()) {
                    return Err(config.error_at(
                        &["stage", &stage.name, "deps"],
                        Some(&stage.name),
                        Some("deps"),
                        format!("unknown stage `{dep}`"),
                    ));
                }
                if dep == &stage.name {
                    return Err(config.error_at(
                        &["stage", &stage.name, "deps"],
                        Some(&stage.name),
                        Some("deps"),
                        "a stage cannot depend on itself".into(),
                    ));
                }
            }
        }
        let order = topological_order(config)?;
        let mut all_overrides = Vec::new();
        for (name, entries) in &config.profiles {
            for entry in entries {
                check_override_target(
                    config,
                    &schemas,
                    &entry.stage,
                    &entry.key,
                    &Origin::Profile(name.clone()),
                )?;
            }
        }
        if let Some(profile) = &overrides.profile {
            let Some(entries) = config.profiles.get(profile) else {
                let known: Vec<&str> = config.profiles().collect();
                return Err(Error::Usage {
                    reason: format!(
                        "unknown profile `{profile}` (defined: {})",
                        list_or_none(&known)
                    ),
                });
            };
            for entry in entries {
                all_overrides.push(Override {
                    stage: entry.stage.clone(),
                    key: entry.key.clone(),
                    value: entry.value.clone(),
                    origin: Origin::Profile(profile.clone()),
                });
            }
        }
        for arg in &overrides.sets {
            let (stage, key, raw) = split_set(arg)?;
            check_override_target(config, &schemas, &stage, &key, &Origin::Set(arg.clone()))?;
            let declared = schemas[stage.as_str()].get(&key).map(|spec| &spec.ty);
            let value = match declared.and_then(|ty| typed_set_value(&raw, ty)) {
                Some(value) => value,
                None => parse_set_value(arg, &raw)?,
            };
            all_overrides.push(Override {
                stage,
                key,
                value,
                origin: Origin::Set(arg.clone()),
            });
        }

        let registry_kinds: BTreeMap<&str, (&'static str, &'static str)> = config
            .stages
            .iter()
            .filter_map(|stage| {
                registry
                    .get(&stage.kind)
                    .map(|kind| (stage.name.as_str(), (kind.name(), kind.fingerprint())))
            })
            .collect();
        let mut stages: Vec<StagePlan> = Vec::with_capacity(order.len());
        let mut tasks: Vec<Task> = Vec::new();
        let mut stage_index: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &order {
            let stage = by_name[name.as_str()];
            let schema = &schemas[name.as_str()];
            let mut points = expand_stage(config, stage, schema, &all_overrides)?;
            if let Some(offset) = overrides.reseed {
                for point in &mut points {
                    reseed_point(point, offset).map_err(|reason| {
                        config.error_at(&["stage", name], Some(name), Some("seed"), reason)
                    })?;
                }
            }
            let (kind, fingerprint) = registry_kinds[name.as_str()];
            if !overrides.allow_large_work
                && let Some(implementation) = registry.get(&stage.kind)
            {
                check_work(config, stage, implementation, &points, &all_overrides)?;
            }
            let start = tasks.len();
            let shared: Vec<usize> = stage
                .deps
                .iter()
                .filter(|dep| Some(*dep) != stage.foreach.as_ref())
                .flat_map(|dep| stages[stage_index[dep.as_str()]].tasks.clone())
                .collect();
            let each: Vec<Option<usize>> = match &stage.foreach {
                Some(dep) => stages[stage_index[dep.as_str()]]
                    .tasks
                    .clone()
                    .map(Some)
                    .collect(),
                None => vec![None],
            };
            let mut index = 0;
            for single in &each {
                for point in &points {
                    let mut deps = shared.clone();
                    if let Some(single) = single {
                        deps.push(*single);
                        deps.sort_unstable();
                    }
                    let params = Value::Object(point.clone());
                    let key = task_key(
                        kind,
                        fingerprint,
                        &params,
                        deps.iter().map(|dep| {
                            let task: &Task = &tasks[*dep];
                            (stages[task.stage].name.as_str(), task.key.as_str())
                        }),
                    );
                    tasks.push(Task {
                        id: tasks.len(),
                        stage: stages.len(),
                        index,
                        kind,
                        fingerprint,
                        params,
                        deps,
                        key,
                    });
                    index += 1;
                }
            }
            stage_index.insert(name.as_str(), stages.len());
            stages.push(StagePlan {
                name: name.clone(),
                kind,
                deps: stage.deps.clone(),
                foreach: stage.foreach.clone(),
                tasks: start..tasks.len(),
            });
        }
        Ok(Plan {
            stages,
            tasks,
            profile: overrides.profile.clone(),
        })
    }

    /// Every task, stages in dependency order and tasks in sweep order within a stage.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Every stage in dependency order.
    pub fn stages(&self) -> &[StagePlan] {
        &self.stages
    }

    /// The stage a task belongs to.
    pub fn stage_of(&self, task: &Task) -> &StagePlan {
        &self.stages[task.stage]
    }

    /// Human label of a task: `stage` for single-task stages, `stage[index]` otherwise.
    pub fn label(&self, task: &Task) -> String {
        let stage = &self.stages[task.stage];
        if stage.tasks.len() == 1 {
            stage.name.clone()
        } else {
            format!("{}[{}]", stage.name, task.index)
        }
    }

    /// Look up a stage by name.
    pub fn stage(&self, name: &str) -> Option<&StagePlan> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// Task ids needed for `targets` (stage names; empty = everything): the targets' tasks and all
    /// their transitive dependencies, in plan order.
    pub fn select(&self, targets: &[String]) -> Result<Vec<usize>> {
        if targets.is_empty() {
            return Ok((0..self.tasks.len()).collect());
        }
        let mut needed = vec![false; self.tasks.len()];
        let mut stack = Vec::new();
        for target in targets {
            let stage = self
                .stage(target)
                .ok_or_else(|| self.unknown_stage(target, "target"))?;
            stack.extend(stage.tasks.clone());
        }
        while let Some(id) = stack.pop() {
            if !needed[id] {
                needed[id] = true;
                stack.extend(self.tasks[id].deps.iter().copied());
            }
        }
        Ok((0..self.tasks.len()).filter(|id| needed[*id]).collect())
    }

    /// Run each kind's [`StageKind::preflight`] for the tasks `ids` (those about to execute), in
    /// plan order, and stop at the first failure: bad external input is reported before any task
    /// runs, once, naming the stage. Tasks with identical parameters are checked once.
    pub fn preflight(&self, registry: &Registry, ids: &[usize]) -> Result<()> {
        let mut checked: BTreeSet<(&str, String)> = BTreeSet::new();
        for &id in ids {
            let task = &self.tasks[id];
            let Some(kind) = registry.get(task.kind) else {
                continue;
            };
            if !checked.insert((task.kind, task.params.to_string())) {
                continue;
            }
            kind.preflight(&task.params)
                .map_err(|reason| Error::Input {
                    stage: self.stages[task.stage].name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    pub(crate) fn unknown_stage(&self, name: &str, role: &str) -> Error {
        let known: Vec<&str> = self
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        Error::Usage {
            reason: format!(
                "unknown {role} stage `{name}` (stages: {})",
                list_or_none(&known)
            ),
        }
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The content key of a task: blake3 over the format version, the kind, its implementation
/// fingerprint, the canonical parameters and the (stage, key) of every input in plan order.
pub fn task_key<'a>(
    kind: &str,
    fingerprint: &str,
    params: &Value,
    inputs: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut bytes = Vec::with_capacity(256);
    for part in [KEY_FORMAT, kind, fingerprint] {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    params::canonical(params, &mut bytes);
    for (stage, key) in inputs {
        bytes.extend_from_slice(&(stage.len() as u64).to_le_bytes());
        bytes.extend_from_slice(stage.as_bytes());
        bytes.extend_from_slice(key.as_bytes());
    }
    blake3::hash(&bytes).to_hex().to_string()
}

/// Split `stage.key=value` into its stage, key and (trimmed, non-empty) value text.
fn split_set(arg: &str) -> Result<(String, String, String)> {
    let fail = |reason: &str| Error::Set {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let (path, raw) = arg
        .split_once('=')
        .ok_or_else(|| fail("expected stage.key=value"))?;
    let (stage, key) = path
        .trim()
        .split_once('.')
        .ok_or_else(|| fail("expected stage.key=value"))?;
    if stage.is_empty() || key.is_empty() {
        return Err(fail("expected stage.key=value"));
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(fail("missing value after `=`"));
    }
    Ok((stage.to_string(), key.to_string(), raw.to_string()))
}

/// The value of a `--set` read by the parameter's declared type, without TOML quoting: a string
/// parameter takes the text as it is (`--set s.title=a b`), a number or boolean parameter one
/// value or a comma-separated sweep (`--set s.rho=0.1,0.2`), a vector parameter comma-separated
/// elements (`--set s.mu=1,2`). `None` when the text is TOML's own syntax for a string, an array
/// or a table (`"…"`, `'…'`, `[…]`, `{…}`: the documented form, which keeps its meaning), when
/// the type is `Any`, or when the text does not read as the type (then [`parse_set_value`]
/// reads it, and the schema check names the mismatch as it always did).
fn typed_set_value(raw: &str, ty: &ParamType) -> Option<toml::Value> {
    if raw.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let list = |element: &ParamType| -> Option<Vec<toml::Value>> {
        raw.split(',')
            .map(|item| typed_scalar(item.trim(), element))
            .collect()
    };
    match ty {
        ParamType::Str { .. } => Some(toml::Value::String(raw.to_string())),
        ParamType::Bool | ParamType::Int { .. } | ParamType::Float { .. } => {
            let mut values = list(ty)?;
            // A comma-separated list where one value is expected is a sweep, as in the file.
            Some(if values.len() == 1 {
                values.remove(0)
            } else {
                toml::Value::Array(values)
            })
        }
        ParamType::FloatVec { .. } => list(&ParamType::Float {
            min: None,
            max: None,
        })
        .map(toml::Value::Array),
        ParamType::IntVec { .. } => list(&ParamType::Int {
            min: None,
            max: None,
        })
        .map(toml::Value::Array),
        ParamType::StrVec => Some(toml::Value::Array(
            raw.split(',')
                .map(|item| toml::Value::String(item.trim().to_string()))
                .collect(),
        )),
        ParamType::Any => None,
    }
}

/// One boolean, integer or number of a typed `--set` (TOML's spelling, plus Rust's for floats:
/// `.5`, `5.`), or `None`.
fn typed_scalar(text: &str, ty: &ParamType) -> Option<toml::Value> {
    let toml_value = toml::from_str::<toml::Table>(&format!("value = {text}"))
        .ok()
        .and_then(|mut table| table.remove("value"));
    match (ty, toml_value) {
        (ParamType::Bool, Some(value @ toml::Value::Boolean(_))) => Some(value),
        (ParamType::Int { .. }, Some(value @ toml::Value::Integer(_))) => Some(value),
        (
            ParamType::Float { .. },
            Some(value @ (toml::Value::Float(_) | toml::Value::Integer(_))),
        ) => Some(value),
        (ParamType::Float { .. }, None) => text.parse::<f64>().ok().map(toml::Value::Float),
        _ => None,
    }
}

/// The untyped reading of a `--set` value: TOML, and a bare word (letters first) is a string.
fn parse_set_value(arg: &str, raw: &str) -> Result<toml::Value> {
    let fail = |reason: &str| Error::Set {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    match toml::from_str::<toml::Table>(&format!("value = {raw}")) {
        Ok(mut table) => table
            .remove("value")
            .ok_or_else(|| fail("value is not valid TOML")),
        Err(_)
            if raw.starts_with(|c: char| c.is_ascii_alphabetic())
                && raw
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
        {
            Ok(toml::Value::String(raw.to_string()))
        }
        Err(_) => Err(fail("value is not valid TOML")),
    }
}

fn check_override_target(
    config: &Config,
    schemas: &BTreeMap<&str, ParamSchema>,
    stage: &str,
    key: &str,
    origin: &Origin,
) -> Result<()> {
    let reason = if !schemas.contains_key(stage) {
        format!("unknown stage `{stage}`")
    } else if crate::config::RESERVED.contains(&key) {
        format!("`{key}` is not a parameter and cannot be overridden")
    } else if schemas[stage].get(key).is_none() {
        format!("unknown parameter `{key}` of stage `{stage}`")
    } else {
        return Ok(());
    };
    Err(match origin {
        Origin::Set(arg) => Error::Set {
            arg: arg.clone(),
            reason,
        },
        Origin::Profile(name) => {
            let path = format!("{stage}.{key}");
            config.error_at(
                &["profile", name, &path],
                Some(stage),
                Some(key),
                format!("profile `{name}`: {reason}"),
            )
        }
    })
}

fn override_error(config: &Config, item: &Override, reason: String) -> Error {
    match &item.origin {
        Origin::Set(arg) => Error::Set {
            arg: arg.clone(),
            reason,
        },
        Origin::Profile(name) => {
            let path = format!("{}.{}", item.stage, item.key);
            config.error_at(
                &["profile", name, &path],
                Some(&item.stage),
                Some(&item.key),
                format!("profile `{name}`: {reason}"),
            )
        }
    }
}

/// Refuse a stage whose kind estimates more than [`WORK_BOUND`] for one of its parameter points,
/// naming where the deciding value was set: the `--set` or profile entry that overrode it, else the
/// stage's key (or its `tasks` list) in the file.
fn check_work(
    config: &Config,
    stage: &StageConfig,
    kind: &dyn StageKind,
    points: &[Map<String, Value>],
    overrides: &[Override],
) -> Result<()> {
    for (position, point) in points.iter().enumerate() {
        let Some(work) = kind.work(&Value::Object(point.clone())) else {
            continue;
        };
        // A NaN estimate is not ≤ the bound, so it is refused too.
        if work.units <= WORK_BOUND {
            continue;
        }
        let task = if points.len() > 1 {
            format!("task {position}: ")
        } else {
            String::new()
        };
        let reason = format!(
            "{task}work {} = {:.3e} exceeds the bound {WORK_BOUND:.0e} (see README.md, \"Work bounds\"); \
             pass --allow-large-work to run it anyway",
            work.formula, work.units
        );
        let name = stage.name.as_str();
        if let Some(item) = overrides
            .iter()
            .rev()
            .find(|item| item.stage == name && item.key == work.key)
        {
            return Err(override_error(config, item, reason));
        }
        let path = if config.line_of(&["stage", name, work.key]).is_some() {
            work.key
        } else {
            "tasks"
        };
        return Err(config.error_at(&["stage", name, path], Some(name), Some(work.key), reason));
    }
    Ok(())
}

/// Resolve a stage's parameter points: file values (and explicit task entries), then overrides,
/// then defaults; validate each against the schema.
fn expand_stage(
    config: &Config,
    stage: &StageConfig,
    schema: &ParamSchema,
    overrides: &[Override],
) -> Result<Vec<Map<String, Value>>> {
    let name = stage.name.as_str();
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
    for (key, value) in &stage.params {
        let Some(spec) = schema.get(key) else {
            let known: Vec<&str> = schema.params.iter().map(|spec| spec.name).collect();
            return Err(config.error_at(
                &["stage", name, key],
                Some(name),
                Some(key),
                format!(
                    "unknown parameter of kind `{}` (parameters: {})",
                    stage.kind,
                    list_or_none(&known)
                ),
            ));
        };
        let setting = params::classify(spec, value).map_err(|reason| {
            config.error_at(&["stage", name, key], Some(name), Some(key), reason)
        })?;
        settings.insert(key.clone(), setting);
    }
    let mut overridden = BTreeMap::new();
    for item in overrides.iter().filter(|item| item.stage == name) {
        let spec = schema.get(&item.key).expect("checked override target");
        let setting = params::classify(spec, &item.value)
            .map_err(|reason| override_error(config, item, reason))?;
        overridden.insert(item.key.clone(), setting);
    }
    let mut points = match &stage.tasks {
        None => {
            settings.extend(overridden.clone());
            let listed: Vec<(String, Setting)> = settings.into_iter().collect();
            params::expand(&listed, stage.zip).map_err(|reason| {
                config.error_at(&["stage", name], Some(name), Some("sweep"), reason)
            })?
        }
        Some(entries) => {
            if let Some((key, _)) = settings
                .iter()
                .chain(&overridden)
                .find(|(_, s)| matches!(s, Setting::Sweep(_)))
            {
                return Err(config.error_at(
                    &["stage", name, key],
                    Some(name),
                    Some(key),
                    "a stage with explicit `tasks` cannot also sweep".into(),
                ));
            }
            let mut points = Vec::new();
            for (position, entry) in entries.iter().enumerate() {
                let mut point: Map<String, Value> = settings
                    .iter()
                    .filter_map(|(key, setting)| match setting {
                        Setting::Fixed(value) => Some((key.clone(), value.clone())),
                        Setting::Sweep(_) => None,
                    })
                    .collect();
                for (key, value) in entry {
                    let located = |reason: String| {
                        config.error_at(
                            &["stage", name, "tasks"],
                            Some(name),
                            Some(key),
                            format!("task {position}: {reason}"),
                        )
                    };
                    let spec = schema.get(key).ok_or_else(|| {
                        located(format!("unknown parameter of kind `{}`", stage.kind))
                    })?;
                    let value = params::check_value(spec, value).map_err(located)?;
                    point.insert(key.clone(), value);
                }
                for (key, setting) in &overridden {
                    if let Setting::Fixed(value) = setting {
                        point.insert(key.clone(), value.clone());
                    }
                }
                points.push(point);
            }
            points
        }
    };
    for spec in &schema.params {
        for point in &mut points {
            if point.contains_key(spec.name) {
                continue;
            }
            let Some(default) = &spec.default else {
                return Err(config.error_at(
                    &["stage", name],
                    Some(name),
                    Some(spec.name),
                    format!("missing required parameter ({})", spec.doc),
                ));
            };
            point.insert(spec.name.to_string(), default.clone());
        }
    }
    Ok(points)
}

/// Stages ordered so that every stage comes after its dependencies (ties by name); a cycle is an
/// error that spells the cycle out.
fn topological_order(config: &Config) -> Result<Vec<String>> {
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = config
        .stages
        .iter()
        .map(|stage| {
            (
                stage.name.as_str(),
                stage.deps.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let mut order = Vec::with_capacity(pending.len());
    loop {
        let ready: Vec<&str> = pending
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            pending.remove(name);
            for deps in pending.values_mut() {
                deps.remove(name);
            }
            order.push(name.to_string());
        }
    }
    let Some(start) = pending.keys().next().copied() else {
        return Ok(order);
    };
    // Walk dependencies inside the stuck set until a stage repeats: that closes a cycle.
    let mut path = vec![start];
    loop {
        let current = *path.last().expect("non-empty path");
        let next = *pending[current]
            .iter()
            .next()
            .expect("stuck stages have pending deps");
        if let Some(position) = path.iter().position(|name| *name == next) {
            let mut cycle: Vec<&str> = path[position..].to_vec();
            cycle.push(next);
            let first = cycle[0];
            return Err(config.error_at(
                &["stage", first, "deps"],
                Some(first),
                Some("deps"),
                format!("dependency cycle: {}", cycle.join(" → ")),
            ));
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn build(text: &str) -> Result<Plan> {
        let mut registry = Registry::new();
        crate::toy::register(&mut registry);
        let config = Config::parse(Path::new("pipeline.toml"), text.to_string())?;
        Plan::build(&registry, &config, &Overrides::default())
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let error = build(
            "[stage.a]\nkind = \"toy.sum\"\ndeps = [\"c\"]\n[stage.b]\nkind = \"toy.sum\"\ndeps = [\"a\"]\n\
             [stage.c]\nkind = \"toy.sum\"\ndeps = [\"b\"]\n[stage.d]\nkind = \"toy.gen\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("dependency cycle: a → c → b → a"), "{error}");
        assert!(error.starts_with("pipeline.toml:3:"), "{error}");
    }

    #[test]
    fn sweeps_expand_and_keys_follow_inputs() {
        let plan = build(
            "[stage.g]\nkind = \"toy.gen\"\nn = [1, 2, 3]\nscale = [0.5, 1.0]\n\
             [stage.s]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
        )
        .unwrap();
        assert_eq!(plan.tasks().len(), 7);
        assert_eq!(plan.tasks()[6].deps, (0..6).collect::<Vec<_>>());
        let keys: BTreeSet<&str> = plan.tasks().iter().map(|task| task.key.as_str()).collect();
        assert_eq!(keys.len(), 7);
        let respelled = build(
            "[stage.g]\nkind = \"toy.gen\"\nn = [1, 2, 3]\nscale = [0.50, 1]\n\
             [stage.s]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
        )
        .unwrap();
        assert_eq!(plan.tasks()[6].key, respelled.tasks()[6].key);
        let changed = build(
            "[stage.g]\nkind = \"toy.gen\"\nn = [1, 2, 4]\nscale = [0.5, 1.0]\n\
             [stage.s]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
        )
        .unwrap();
        let differing: Vec<usize> = (0..7)
            .filter(|id| plan.tasks()[*id].key != changed.tasks()[*id].key)
            .collect();
        // Grid order: `n` sorts before `scale`, so n = 3 is tasks 4 and 5; the aggregator follows.
        assert_eq!(differing, vec![4, 5, 6]);
    }

    /// A kind with a seed sweep axis, a seed list and a non-seed integer.
    struct Seeded;

    impl StageKind for Seeded {
        fn name(&self) -> &'static str {
            "test.seeded"
        }
        fn fingerprint(&self) -> &'static str {
            "seeded"
        }
        fn schema(&self) -> ParamSchema {
            use crate::stage::{ParamSpec, ParamType};
            let int = ParamType::Int {
                min: Some(0),
                max: None,
            };
            ParamSchema::new(vec![
                ParamSpec::new("seed", int.clone(), "a seed")
                    .with_default(0)
                    .sweepable(),
                ParamSpec::new(
                    "seeds",
                    ParamType::IntVec {
                        min: Some(0),
                        max: None,
                    },
                    "seeds",
                )
                .with_default(Value::Array(Vec::new())),
                ParamSpec::new("n", int, "not a seed").with_default(0),
            ])
        }
        fn run(&self, _ctx: &crate::stage::TaskContext<'_>) -> Result<(), crate::TaskError> {
            Ok(())
        }
    }

    #[test]
    fn reseeding_shifts_every_seed_and_only_seeded_keys_change() {
        let mut registry = Registry::new();
        crate::toy::register(&mut registry);
        registry.register(Seeded);
        let text = "[stage.a]\nkind = \"test.seeded\"\nseed = [0, 1]\nseeds = [3, 4]\nn = 5\n\
                    [stage.d]\nkind = \"test.seeded\"\n\
                    [stage.g]\nkind = \"toy.gen\"\nn = 2\n\
                    [stage.s]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n\
                    [stage.t]\nkind = \"toy.sum\"\ndeps = [\"a\", \"g\"]\n";
        let config = Config::parse(Path::new("pipeline.toml"), text.to_string()).unwrap();
        let plan = Plan::build(&registry, &config, &Overrides::default()).unwrap();
        let reseeded = Overrides {
            reseed: Some(1_000_000),
            ..Overrides::default()
        };
        let shifted = Plan::build(&registry, &config, &reseeded).unwrap();
        let params = |plan: &Plan, id: usize| plan.tasks()[id].params.clone();
        let by_stage = |plan: &Plan, stage: &str| -> Vec<usize> {
            plan.stages()
                .iter()
                .find(|s| s.name == stage)
                .unwrap()
                .tasks
                .clone()
                .collect()
        };
        let a = by_stage(&shifted, "a");
        assert_eq!(params(&shifted, a[0])["seed"], 1_000_000);
        assert_eq!(params(&shifted, a[1])["seed"], 1_000_001);
        assert_eq!(
            params(&shifted, a[0])["seeds"],
            serde_json::json!([1_000_003, 1_000_004])
        );
        assert_eq!(params(&shifted, a[0])["n"], 5);
        // A defaulted seed moves too: the default is a seed like any other.
        assert_eq!(
            params(&shifted, by_stage(&shifted, "d")[0])["seed"],
            1_000_000
        );
        for stage in ["a", "d", "t"] {
            for id in by_stage(&plan, stage) {
                assert_ne!(plan.tasks()[id].key, shifted.tasks()[id].key, "{stage}");
            }
        }
        for stage in ["g", "s"] {
            for id in by_stage(&plan, stage) {
                assert_eq!(plan.tasks()[id].key, shifted.tasks()[id].key, "{stage}");
            }
        }
        let overflow = Overrides {
            reseed: Some(i64::MAX as u64),
            ..Overrides::default()
        };
        let error = Plan::build(&registry, &config, &overflow)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("seed parameter `seeds` = 3 overflows when shifted"),
            "{error}"
        );
    }

    /// A kind whose work is `n`·10¹² and whose preflight refuses `n = 3`.
    struct Costly;

    impl StageKind for Costly {
        fn name(&self) -> &'static str {
            "test.costly"
        }
        fn fingerprint(&self) -> &'static str {
            "costly"
        }
        fn schema(&self) -> ParamSchema {
            ParamSchema::new(vec![
                crate::stage::ParamSpec::new(
                    "n",
                    crate::stage::ParamType::Int {
                        min: Some(0),
                        max: None,
                    },
                    "units of 10¹² operations",
                )
                .sweepable(),
            ])
        }
        fn run(&self, _ctx: &crate::stage::TaskContext<'_>) -> Result<(), crate::TaskError> {
            Ok(())
        }
        fn work(&self, params: &Value) -> Option<crate::stage::Work> {
            Some(crate::stage::Work {
                units: params["n"].as_f64()? * 1e12,
                key: "n",
                formula: "n × 10¹²",
            })
        }
        fn preflight(&self, params: &Value) -> std::result::Result<(), String> {
            match params["n"].as_i64() {
                Some(3) => Err("input 3 is damaged".into()),
                _ => Ok(()),
            }
        }
    }

    fn build_costly(text: &str, overrides: &Overrides) -> Result<(Registry, Plan)> {
        let mut registry = Registry::new();
        registry.register(Costly);
        let config = Config::parse(Path::new("pipeline.toml"), text.to_string())?;
        let plan = Plan::build(&registry, &config, overrides)?;
        Ok((registry, plan))
    }

    #[test]
    fn work_above_the_bound_is_refused_where_it_was_set_unless_allowed() {
        let text =
            "[stage.a]\nkind = \"test.costly\"\nn = [1, 10, 11]\n\n[profile.p]\n\"a.n\" = 20\n";
        let error = build_costly(text, &Overrides::default())
            .err()
            .expect("n = 11 is above the bound")
            .to_string();
        assert!(
            error.starts_with("pipeline.toml:3: stage `a`, key `n`: task 2:"),
            "{error}"
        );
        assert!(
            error.contains("n × 10¹² = 1.100e13 exceeds the bound 1e13"),
            "{error}"
        );
        let profile = Overrides {
            profile: Some("p".into()),
            ..Overrides::default()
        };
        let error = build_costly(text, &profile).err().unwrap().to_string();
        assert!(
            error.starts_with("pipeline.toml:6:") && error.contains("profile `p`"),
            "{error}"
        );
        let allowed = Overrides {
            allow_large_work: true,
            ..Overrides::default()
        };
        assert_eq!(build_costly(text, &allowed).unwrap().1.tasks().len(), 3);
        // Exactly at the bound is allowed.
        let at_bound = build_costly(
            "[stage.a]\nkind = \"test.costly\"\nn = 10\n",
            &Overrides::default(),
        );
        assert!(at_bound.is_ok());
    }

    #[test]
    fn preflight_stops_at_the_first_bad_task_as_bad_input() {
        let (registry, plan) = build_costly(
            "[stage.a]\nkind = \"test.costly\"\nn = [1, 3, 2]\n",
            &Overrides::default(),
        )
        .unwrap();
        assert!(
            plan.preflight(&registry, &[0, 2]).is_ok(),
            "only the tasks about to run"
        );
        let error = plan.preflight(&registry, &[0, 1, 2]).unwrap_err();
        assert!(error.is_bad_input());
        assert_eq!(error.to_string(), "stage `a`: input 3 is damaged");
    }

    #[test]
    fn set_overrides_untyped_are_parsed_as_toml() {
        let parse = |arg: &str| {
            let (_, _, raw) = split_set(arg)?;
            parse_set_value(arg, &raw)
        };
        assert_eq!(parse("a.b=1.5").unwrap(), toml::Value::Float(1.5));
        assert_eq!(parse("a.b=gd").unwrap(), toml::Value::String("gd".into()));
        assert!(parse("a.b=[1,").is_err());
        assert!(parse("ab=1").is_err());
        assert!(split_set("a.b= ").is_err());
    }

    #[test]
    fn set_overrides_are_read_by_the_declared_type() {
        use toml::Value::{Array, Boolean, Float, Integer, String};
        let float = ParamType::Float {
            min: None,
            max: None,
        };
        let int = ParamType::Int {
            min: None,
            max: None,
        };
        let text = ParamType::Str { choices: None };
        let vector = ParamType::FloatVec {
            len: None,
            min: None,
            max: None,
        };
        assert_eq!(typed_set_value("0.1", &float), Some(Float(0.1)));
        assert_eq!(typed_set_value(".5", &float), Some(Float(0.5)));
        assert_eq!(typed_set_value("2", &float), Some(Integer(2)));
        assert_eq!(
            typed_set_value("0.1, 0.2", &float),
            Some(Array(vec![Float(0.1), Float(0.2)]))
        );
        assert_eq!(typed_set_value("7", &int), Some(Integer(7)));
        // Not the type: left to the untyped reading, whose mismatch the schema check names.
        assert_eq!(typed_set_value("1.5", &int), None);
        assert_eq!(typed_set_value("yes", &ParamType::Bool), None);
        assert_eq!(
            typed_set_value("true", &ParamType::Bool),
            Some(Boolean(true))
        );
        assert_eq!(
            typed_set_value("two words, one comma", &text),
            Some(String("two words, one comma".into()))
        );
        assert_eq!(typed_set_value("1.5", &text), Some(String("1.5".into())));
        assert_eq!(
            typed_set_value("1,2", &vector),
            Some(Array(vec![Integer(1), Integer(2)]))
        );
        assert_eq!(
            typed_set_value("a, b", &ParamType::StrVec),
            Some(Array(vec![String("a".into()), String("b".into())]))
        );
        // TOML's own syntax keeps its meaning (the documented quoted form, arrays, sweeps).
        for raw in ["\"quoted\"", "'single'", "[1, 2]", "{ a = 1 }"] {
            assert_eq!(typed_set_value(raw, &text), None, "{raw}");
        }
        assert_eq!(typed_set_value("1", &ParamType::Any), None);
    }
}
