//! Strict parsing of `pipeline.toml` into stages and profiles, with source lines for every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Keys of a `[stage.NAME]` table that are not parameters of the kind.
pub(crate) const RESERVED: [&str; 5] = ["kind", "deps", "foreach", "sweep", "tasks"];

/// A parsed (not yet validated against the kinds) `pipeline.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file as given.
    pub file: PathBuf,
    /// Store directory, resolved against the file's directory.
    pub store: PathBuf,
    /// Reports directory, resolved against the file's directory.
    pub reports: PathBuf,
    text: String,
    pub(crate) stages: Vec<StageConfig>,
    pub(crate) profiles: BTreeMap<String, Vec<ProfileEntry>>,
}

#[derive(Debug, Clone)]
pub(crate) struct StageConfig {
    pub name: String,
    pub kind: String,
    pub deps: Vec<String>,
    pub foreach: Option<String>,
    pub zip: bool,
    pub params: Vec<(String, toml::Value)>,
    /// Explicit task list: each entry's params are merged over `params`.
    pub tasks: Option<Vec<toml::Table>>,
}

#[derive(Debug, Clone)]
pub(crate) struct ProfileEntry {
    pub stage: String,
    pub key: String,
    pub value: toml::Value,
}

impl Config {
    /// Read and parse `file`. Errors name the file and, where known, the line, stage and key.
    pub fn load(file: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(file).map_err(|error| Error::Config {
            file: file.to_path_buf(),
            line: None,
            stage: None,
            key: None,
            reason: format!("cannot read the pipeline file: {error}"),
        })?;
        Self::parse(file, text)
    }

    /// Parse `text` as if read from `file`.
    pub fn parse(file: &Path, text: String) -> Result<Config> {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Config {
            file: file.to_path_buf(),
            store: dir.join(".minorfirst/store"),
            reports: dir.join("reports"),
            text,
            stages: Vec::new(),
            profiles: BTreeMap::new(),
        };
        let table: toml::Table = match toml::from_str(&config.text) {
            Ok(table) => table,
            Err(error) => {
                let line = error.span().map(|span| config.line_at(span.start));
                return Err(config.error(
                    line,
                    None,
                    None,
                    format!("invalid TOML: {}", error.message().trim()),
                ));
            }
        };
        for (key, value) in &table {
            match key.as_str() {
                "pipeline" => config.read_pipeline(value, &dir)?,
                "profile" => config.read_profiles(value)?,
                "stage" => config.read_stages(value)?,
                other => {
                    return Err(config.error_at(
                        &[other],
                        None,
                        Some(other),
                        "unknown top-level key (expected `pipeline`, `profile` or `stage`)".into(),
                    ));
                }
            }
        }
        Ok(config)
    }

    fn read_pipeline(&mut self, value: &toml::Value, dir: &Path) -> Result<()> {
        let Some(table) = value.as_table() else {
            return Err(self.error_at(
                &["pipeline"],
                None,
                Some("pipeline"),
                "expected a table".into(),
            ));
        };
        for (key, value) in table {
            let Some(path) = value.as_str() else {
                return Err(self.error_at(
                    &["pipeline", key],
                    None,
                    Some(key),
                    "expected a string path".into(),
                ));
            };
            match key.as_str() {
                "store" => self.store = dir.join(path),
                "reports" => self.reports = dir.join(path),
                _ => {
                    return Err(self.error_at(
                        &["pipeline", key],
                        None,
                        Some(key),
                        "unknown key in [pipeline] (expected `store` or `reports`)".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_profiles(&mut self, value: &toml::Value) -> Result<()> {
        let Some(table) = value.as_table() else {
            return Err(self.error_at(
                &["profile"],
                None,
                Some("profile"),
                "expected a table of profiles".into(),
            ));
        };
        for (name, entries) in table {
            let Some(entries) = entries.as_table() else {
                return Err(self.error_at(
                    &["profile", name],
                    None,
                    Some(name),
                    "a profile must be a table of \"stage.key\" = value".into(),
                ));
            };
            let mut parsed = Vec::new();
            for (path, value) in entries {
                let Some((stage, key)) = path.split_once('.') else {
                    return Err(self.error_at(
                        &["profile", name, path],
                        None,
                        Some(path),
                        format!("profile `{name}`: expected a quoted \"stage.key\""),
                    ));
                };
                parsed.push(ProfileEntry {
                    stage: stage.into(),
                    key: key.into(),
                    value: value.clone(),
                });
            }
            self.profiles.insert(name.clone(), parsed);
        }
        Ok(())
    }

    fn read_stages(&mut self, value: &toml::Value) -> Result<()> {
        let Some(table) = value.as_table() else {
            return Err(self.error_at(
                &["stage"],
                None,
                Some("stage"),
                "expected [stage.NAME] tables".into(),
            ));
        };
        for (name, body) in table {
            let Some(body) = body.as_table() else {
                return Err(self.error_at(
                    &["stage", name],
                    Some(name),
                    None,
                    "expected a table".into(),
                ));
            };
            let at = |key: &str| ["stage", name.as_str(), key].map(str::to_owned);
            let fail = |config: &Config, key: &str, reason: String| {
                let path = at(key);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                config.error_at(&path, Some(name), Some(key), reason)
            };
            let kind = match body.get("kind") {
                Some(toml::Value::String(kind)) => kind.clone(),
                Some(_) => return Err(fail(self, "kind", "expected a string".into())),
                None => {
                    return Err(self.error_at(
                        &["stage", name],
                        Some(name),
                        None,
                        "missing `kind`".into(),
                    ));
                }
            };
            let deps = match body.get("deps") {
                None => Vec::new(),
                Some(toml::Value::Array(items)) => {
                    let mut deps = Vec::new();
                    for item in items {
                        let Some(dep) = item.as_str() else {
                            return Err(fail(
                                self,
                                "deps",
                                "expected an array of stage names".into(),
                            ));
                        };
                        if deps.iter().any(|known| known == dep) {
                            return Err(fail(
                                self,
                                "deps",
                                format!("stage `{dep}` is listed twice"),
                            ));
                        }
                        deps.push(dep.to_string());
                    }
                    deps
                }
                Some(toml::Value::String(dep)) => vec![dep.clone()],
                Some(_) => {
                    return Err(fail(
                        self,
                        "deps",
                        "expected an array of stage names".into(),
                    ));
                }
            };
            let foreach = match body.get("foreach") {
                None => None,
                Some(toml::Value::String(dep)) => {
                    if !deps.contains(dep) {
                        return Err(fail(
                            self,
                            "foreach",
                            format!("`{dep}` must also be listed in `deps`"),
                        ));
                    }
                    Some(dep.clone())
                }
                Some(_) => return Err(fail(self, "foreach", "expected a stage name".into())),
            };
            let zip = match body.get("sweep").map(toml::Value::as_str) {
                None | Some(Some("grid")) => false,
                Some(Some("zip")) => true,
                Some(_) => return Err(fail(self, "sweep", "expected \"grid\" or \"zip\"".into())),
            };
            let tasks = match body.get("tasks") {
                None => None,
                Some(toml::Value::Array(items)) => {
                    let mut tasks = Vec::new();
                    for item in items {
                        let Some(task) = item.as_table() else {
                            return Err(fail(self, "tasks", "expected an array of tables".into()));
                        };
                        tasks.push(task.clone());
                    }
                    if tasks.is_empty() {
                        return Err(fail(self, "tasks", "needs at least one task".into()));
                    }
                    Some(tasks)
                }
                Some(_) => return Err(fail(self, "tasks", "expected an array of tables".into())),
            };
            let params = body
                .iter()
                .filter(|(key, _)| !RESERVED.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            self.stages.push(StageConfig {
                name: name.clone(),
                kind,
                deps,
                foreach,
                zip,
                params,
                tasks,
            });
        }
        Ok(())
    }

    /// Names of the profiles defined in the file.
    pub fn profiles(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|byte| *byte == b'\n')
            .count()
            + 1
    }

    /// Line of the deepest key of `path` present in the file (parsed again with spans; only on the
    /// error path, so the common path pays nothing for it).
    pub(crate) fn line_of(&self, path: &[&str]) -> Option<usize> {
        let document = toml::de::DeTable::parse(&self.text).ok()?;
        let mut table = document.get_ref();
        let mut line = None;
        for segment in path {
            let (key, value) = table
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == *segment)?;
            line = Some(self.line_at(key.span().start));
            match value.get_ref().as_table() {
                Some(inner) => table = inner,
                None => break,
            }
        }
        line
    }

    pub(crate) fn error(
        &self,
        line: Option<usize>,
        stage: Option<&str>,
        key: Option<&str>,
        reason: String,
    ) -> Error {
        Error::Config {
            file: self.file.clone(),
            line,
            stage: stage.map(str::to_owned),
            key: key.map(str::to_owned),
            reason,
        }
    }

    pub(crate) fn error_at(
        &self,
        path: &[&str],
        stage: Option<&str>,
        key: Option<&str>,
        reason: String,
    ) -> Error {
        self.error(self.line_of(path), stage, key, reason)
    }
}
