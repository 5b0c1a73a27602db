//! The coordinator's side: a [`pipeline::TaskRunner`] that submits tasks as Slurm job arrays and
//! blocks each scheduler thread until its task's result record arrives or its job fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pipeline::{Executed, Plan, Store, Task, TaskRecord};

use super::settings::SlurmSettings;
use super::worker::{host, write_durable};
use super::{BATCHES, InputRef, Outcome, ResultRecord, TaskManifest, WORKER_SCRATCH};
use crate::cli::exit::CliError;

/// Threads of the coordinator's scheduler pool: each submitted task holds one while it waits, so
/// this bounds the tasks in flight; a local task runs on one of them.
pub const COORDINATOR_THREADS: usize = 128;

/// How long the driver waits for more ready tasks of a stage before submitting them as one array
/// (the scheduler releases a wave of ready tasks within microseconds of each other).
const GATHER: Duration = Duration::from_millis(150);

/// After this long without one successful `squeue`, every awaited task is reported failed rather
/// than waited on forever.
const SQUEUE_DOWN: Duration = Duration::from_secs(300);

/// How long an interrupted coordinator waits for `squeue` to stop listing its cancelled jobs.
const CANCEL_WAIT: Duration = Duration::from_secs(30);

/// The submission log, under `<store>/slurm/`.
pub const SUBMISSIONS: &str = "submissions.log";

/// Slurm states in which a job element may still write its result.
const ALIVE: [&str; 8] = [
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "RESIZING",
    "STAGE_OUT",
];

#[derive(Debug)]
pub struct SlurmRunner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: SlurmSettings,
    exe: PathBuf,
    store: PathBuf,
    run_id: String,
    /// Stages named by `--force` (their workers execute even over a committed object).
    forced: HashSet<String>,
    quiet: bool,
    serial: AtomicUsize,
    state: Mutex<State>,
    wake: Condvar,
    /// Held around every `sbatch`, so that an interrupt never misses a job being submitted.
    submitting: Mutex<()>,
}

/// A task waiting to be submitted.
#[derive(Debug)]
struct Queued {
    /// The task's index in the plan: an array's elements are in plan order.
    id: usize,
    stage: String,
    manifest: TaskManifest,
}

/// A submitted (or re-attached) array element whose result is awaited.
#[derive(Debug, Clone)]
struct Watched {
    key: String,
    /// The array's job name (`mf-<batch>`), which `squeue --name` finds.
    name: String,
    job: String,
    element: usize,
    result: PathBuf,
    log: PathBuf,
    submitted: Instant,
}

impl Watched {
    fn id(&self) -> String {
        format!("{}_{}", self.job, self.element)
    }
}

#[derive(Debug, Clone)]
enum Finished {
    Result(ResultRecord, Watched),
    /// The job ended without a usable result: the Slurm state (or `vanished`).
    Lost(String, Watched),
    NotSubmitted(String),
}

#[derive(Debug, Default)]
struct State {
    /// Whether earlier runs' batches were scanned (done once, under the store lock).
    recovered: Option<Result<(), String>>,
    queue: Vec<Queued>,
    last_queued: Option<Instant>,
    watched: Vec<Watched>,
    /// Keys queued, submitted or re-attached in this run. Tasks of two stages can share a key
    /// (same kind, parameters and inputs): the second waits for the first one's job.
    requested: HashSet<String>,
    /// Results by key, kept for every task of that key.
    done: HashMap<String, Finished>,
    /// Elements of earlier runs' arrays still pending or running, by key.
    reattach: HashMap<String, Watched>,
    /// Job names and ids of this run (re-attached ones included), for `scancel`.
    names: Vec<String>,
    jobs: Vec<String>,
    driver: bool,
    interrupted: bool,
}

/// Element id (`123_4`) → (job name, state) of every element of the named jobs; `--states=all`
/// keeps jobs that finished within `MinJobAge`.
fn squeue_states(names: &[String]) -> Result<HashMap<String, (String, String)>, String> {
    let mut map = HashMap::new();
    for chunk in names.chunks(200) {
        let output = Command::new("squeue")
            .args(["-h", "-r", "--states=all", "-o", "%i|%j|%T"])
            .arg(format!("--name={}", chunk.join(",")))
            .output()
            .map_err(|error| format!("cannot run squeue: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "squeue failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut fields = line.trim().split('|');
            if let (Some(id), Some(name), Some(state)) =
                (fields.next(), fields.next(), fields.next())
            {
                map.insert(id.to_string(), (name.to_string(), state.to_string()));
            }
        }
    }
    Ok(map)
}

/// `JobState` of one element from `scontrol show job`, `None` when Slurm no longer knows it.
fn scontrol_state(id: &str) -> Option<String> {
    let output = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find_map(|field| field.strip_prefix("JobState="))
        .map(str::to_string)
}

fn read_result(path: &Path) -> Option<ResultRecord> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn job_name(batch: &str) -> String {
    format!("mf-{batch}")
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

impl SlurmRunner {
    /// Check that Slurm answers; earlier runs' batches are scanned later, under the store lock.
    pub fn start(
        settings: SlurmSettings,
        store: &Path,
        forced: &[String],
        quiet: bool,
    ) -> Result<Self, CliError> {
        let probe = Command::new("sbatch").arg("--version").output();
        if !probe.is_ok_and(|output| output.status.success()) {
            return Err(CliError::bad_input(
                "--executor slurm: `sbatch` is not on PATH (is this a Slurm login node?)",
            ));
        }
        let exe = std::env::current_exe()
            .map_err(|error| CliError::unexpected(format!("cannot find this binary: {error}")))?;
        std::fs::create_dir_all(store.join(BATCHES)).map_err(|error| {
            CliError::unexpected(format!("cannot create {}: {error}", store.display()))
        })?;
        let store = std::path::absolute(store)
            .map_err(|error| CliError::unexpected(format!("{}: {error}", store.display())))?;
        let run_id = format!(
            "{}-{}-{}",
            host(),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs())
        );
        let inner = Inner {
            settings,
            exe,
            store,
            run_id,
            forced: forced.iter().cloned().collect(),
            quiet,
            serial: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            submitting: Mutex::new(()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// On SIGINT/SIGTERM: cancel this run's jobs (`scancel`), wait until `squeue` no longer lists
    /// them, then exit 130.
    pub fn cancel_on_interrupt(&self) -> Result<(), CliError> {
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])
        .map_err(|error| CliError::unexpected(format!("cannot catch signals: {error}")))?;
        let inner = Arc::clone(&self.inner);
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let cancelled = inner.cancel_all();
                eprintln!("interrupted: cancelled {cancelled} Slurm job(s) of this run");
                std::process::exit(130);
            }
        });
        Ok(())
    }
}

/// Scan earlier runs' batches: elements still alive are returned for re-attaching; batches with
/// nothing alive and nothing failed are removed, as is every worker scratch directory whose job
/// element is no longer alive (a running worker's scratch is never touched).
fn recover(store: &Path) -> Result<HashMap<String, Watched>, String> {
    let root = store.join(BATCHES);
    let mut batches = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let dir = entry.path();
            let Ok(bytes) = std::fs::read(dir.join("keys.json")) else {
                continue;
            };
            let Ok(keys) = serde_json::from_slice::<Vec<String>>(&bytes) else {
                continue;
            };
            batches.push((entry.file_name().to_string_lossy().into_owned(), dir, keys));
        }
    }
    let names: Vec<String> = batches.iter().map(|(batch, ..)| job_name(batch)).collect();
    let states = if names.is_empty() {
        HashMap::new()
    } else {
        squeue_states(&names)?
    };
    let alive: HashSet<&str> = states
        .iter()
        .filter(|(_, (_, state))| ALIVE.contains(&state.as_str()))
        .map(|(id, _)| id.as_str())
        .collect();
    let mut reattach = HashMap::new();
    for (batch, dir, keys) in &batches {
        let name = job_name(batch);
        let mut any_alive = false;
        for (id, (job_name, state)) in &states {
            if *job_name != name || !ALIVE.contains(&state.as_str()) {
                continue;
            }
            let Some((job, element)) = id.split_once('_') else {
                continue;
            };
            let Ok(element) = element.parse::<usize>() else {
                continue;
            };
            if let Some(key) = keys.get(element) {
                any_alive = true;
                reattach.insert(
                    key.clone(),
                    Watched {
                        key: key.clone(),
                        name: name.clone(),
                        job: job.to_string(),
                        element,
                        result: dir.join(format!("{element}.result.json")),
                        log: dir.join(format!("{element}.log")),
                        submitted: Instant::now(),
                    },
                );
            }
        }
        let any_failed = (0..keys.len()).any(|element| {
            let ran = dir.join(format!("{element}.log")).exists();
            let result = read_result(&dir.join(format!("{element}.result.json")));
            ran && result.is_none_or(|record| record.outcome == Outcome::Failed)
        });
        // A failed batch keeps its logs for the user; anything else is spent.
        if !any_alive && !any_failed {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if let Ok(entries) = std::fs::read_dir(store.join(WORKER_SCRATCH)) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let element = name.split('.').nth(1).unwrap_or_default();
            if !alive.contains(element) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(reattach)
}

impl Inner {
    /// Cancel every job of this run and wait (bounded) until `squeue` lists none of them.
    fn cancel_all(&self) -> usize {
        let _submitting = self.submitting.lock();
        let (names, jobs) = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            state.interrupted = true;
            (state.names.clone(), state.jobs.clone())
        };
        if !jobs.is_empty() {
            let _ = Command::new("scancel").args(&jobs).status();
        }
        // Also by name: a job whose id was not yet recorded when the signal came.
        for chunk in names.chunks(200) {
            let _ = Command::new("scancel")
                .arg(format!("--name={}", chunk.join(",")))
                .status();
        }
        let deadline = Instant::now() + CANCEL_WAIT;
        while !names.is_empty() && Instant::now() < deadline {
            let listed = Command::new("squeue")
                .args(["-h", "-o", "%i"])
                .arg(format!("--name={}", names.join(",")))
                .output();
            match listed {
                Ok(output) if output.status.success() && output.stdout.trim_ascii().is_empty() => {
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        jobs.len()
    }

    fn manifest(&self, plan: &Plan, task: &Task) -> TaskManifest {
        let stage = plan.stage_of(task);
        let (cpus, _, _) = self.settings.resources(&stage.name);
        TaskManifest {
            version: 1,
            label: plan.label(task),
            stage: stage.name.clone(),
            kind: task.kind.to_string(),
            fingerprint: task.fingerprint.to_string(),
            params: task.params.clone(),
            key: task.key.clone(),
            inputs: task
                .deps
                .iter()
                .map(|dep| {
                    let input = &plan.tasks()[*dep];
                    InputRef {
                        stage: plan.stage_of(input).name.clone(),
                        kind: input.kind.to_string(),
                        params: input.params.clone(),
                        key: input.key.clone(),
                    }
                })
                .collect(),
            store: self.store.clone(),
            result: PathBuf::new(),
            log: PathBuf::new(),
            threads: cpus as usize,
            force: self.forced.contains(&stage.name),
        }
    }

    /// Submit one stage's ready tasks as one array job. The batch's keys are on disk (durably)
    /// before `sbatch`, under the job name, so a coordinator killed at any point can be followed
    /// by one that finds the job.
    fn submit(&self, stage: &str, mut tasks: Vec<TaskManifest>) -> Result<Vec<Watched>, String> {
        let _submitting = self.submitting.lock().expect("submitting");
        if self.state.lock().expect("state").interrupted {
            return Err("interrupted".into());
        }
        let batch = format!(
            "{}-{}",
            self.run_id,
            self.serial.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.store.join(BATCHES).join(&batch);
        let io = |error: std::io::Error| format!("{}: {error}", dir.display());
        std::fs::create_dir_all(&dir).map_err(io)?;
        for (element, manifest) in tasks.iter_mut().enumerate() {
            manifest.result = dir.join(format!("{element}.result.json"));
            manifest.log = dir.join(format!("{element}.log"));
            std::fs::write(
                dir.join(format!("{element}.json")),
                serde_json::to_vec_pretty(&*manifest).expect("manifest serializes"),
            )
            .map_err(io)?;
        }
        let script = dir.join("job.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# minorfirst worker for stage {stage}; element = $SLURM_ARRAY_TASK_ID\n\
                 exec {} worker --manifest {}/\"$SLURM_ARRAY_TASK_ID\".json\n",
                quote(&self.exe),
                quote(&dir)
            ),
        )
        .map_err(io)?;
        let keys: Vec<&str> = tasks.iter().map(|manifest| manifest.key.as_str()).collect();
        write_durable(
            &dir.join("keys.json"),
            &serde_json::to_vec(&keys).expect("keys serialize"),
        )
        .map_err(io)?;
        let name = job_name(&batch);
        self.state.lock().expect("state").names.push(name.clone());
        let (cpus, mem, time) = self.settings.resources(stage);
        let mut command = Command::new("sbatch");
        command
            .arg("--parsable")
            .arg(format!("--job-name={name}"))
            .arg(format!(
                "--array=0-{}%{}",
                tasks.len() - 1,
                self.settings.max_concurrent
            ))
            .arg(format!("--output={}/%a.log", dir.display()))
            .arg(format!("--cpus-per-task={cpus}"));
        if let Some(mem) = mem {
            command.arg(format!("--mem={mem}"));
        }
        if let Some(time) = time {
            command.arg(format!("--time={time}"));
        }
        if let Some(partition) = &self.settings.partition {
            command.arg(format!("--partition={partition}"));
        }
        if let Some(account) = &self.settings.account {
            command.arg(format!("--account={account}"));
        }
        command.args(&self.settings.extra_sbatch).arg(&script);
        let submitted = Instant::now();
        let output = command
            .output()
            .map_err(|error| format!("cannot run sbatch: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "sbatch failed (exit {:?}): {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        // `--parsable` prints `id` or `id;cluster`.
        let job = stdout
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("sbatch printed no job id: {stdout:?}"));
        }
        self.state.lock().expect("state").jobs.push(job.clone());
        let _ = write_durable(&dir.join("job_id"), job.as_bytes());
        self.log_submission(stage, &job, &name, tasks.len(), &dir);
        Ok(tasks
            .iter()
            .enumerate()
            .map(|(element, manifest)| Watched {
                key: manifest.key.clone(),
                name: name.clone(),
                job: job.clone(),
                element,
                result: manifest.result.clone(),
                log: manifest.log.clone(),
                submitted,
            })
            .collect())
    }

    /// One line per `sbatch` in `<store>/slurm/submissions.log` (and on stderr unless quiet).
    fn log_submission(&self, stage: &str, job: &str, name: &str, tasks: usize, dir: &Path) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let line = format!(
            "{now:.3} stage={stage} job={job} name={name} tasks={tasks} array=0-{}%{} dir={}\n",
            tasks - 1,
            self.settings.max_concurrent,
            dir.display()
        );
        let path = self.store.join(BATCHES).join(SUBMISSIONS);
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(error) = appended {
            eprintln!("warning: cannot append to {}: {error}", path.display());
        }
        if !self.quiet {
            eprintln!("submitted {stage}: {tasks} task(s) as Slurm job array {job}");
        }
    }

    /// One poll of every watched element: result records first, then one `squeue`, then
    /// `scontrol` for elements `squeue` no longer lists. `Err` when `squeue` failed.
    fn poll(&self, watched: &[Watched]) -> Result<Vec<Finished>, String> {
        let mut finished = Vec::new();
        let mut open = Vec::new();
        for element in watched {
            match read_result(&element.result) {
                Some(record) => finished.push(Finished::Result(record, element.clone())),
                None => open.push(element),
            }
        }
        if open.is_empty() {
            return Ok(finished);
        }
        let mut names: Vec<String> = open.iter().map(|element| element.name.clone()).collect();
        names.sort();
        names.dedup();
        let states = squeue_states(&names)?;
        for element in open {
            let state = states
                .get(&element.id())
                .map(|(_, state)| state.clone())
                .or_else(|| scontrol_state(&element.id()));
            match state {
                Some(state) if ALIVE.contains(&state.as_str()) => {}
                state => {
                    // The worker writes its record before it exits: read once more now that the
                    // job has left the alive states.
                    let state = state.unwrap_or_else(|| "vanished".into());
                    match read_result(&element.result) {
                        Some(record) => finished.push(Finished::Result(record, element.clone())),
                        None => finished.push(Finished::Lost(state, element.clone())),
                    }
                }
            }
        }
        Ok(finished)
    }

    /// The driver: gathers queued tasks into arrays, submits them, polls, and hands results to
    /// the waiting scheduler threads.
    fn drive(self: Arc<Self>) {
        let interval = Duration::from_secs_f64(self.settings.poll_interval_s);
        let mut last_poll = Instant::now()
            .checked_sub(interval)
            .unwrap_or_else(Instant::now);
        let mut last_squeue = Instant::now();
        loop {
            let mut state = self.state.lock().expect("state");
            let gathered = state.last_queued.is_some_and(|at| at.elapsed() >= GATHER);
            if gathered && !state.queue.is_empty() {
                let mut queue = std::mem::take(&mut state.queue);
                state.last_queued = None;
                drop(state);
                queue.sort_by_key(|queued| queued.id);
                let mut by_stage: BTreeMap<String, Vec<TaskManifest>> = BTreeMap::new();
                for queued in queue {
                    by_stage
                        .entry(queued.stage)
                        .or_default()
                        .push(queued.manifest);
                }
                for (stage, tasks) in by_stage {
                    let keys: Vec<String> = tasks.iter().map(|task| task.key.clone()).collect();
                    let outcome = self.submit(&stage, tasks);
                    let mut state = self.state.lock().expect("state");
                    match outcome {
                        Ok(elements) => state.watched.extend(elements),
                        Err(error) => {
                            for key in keys {
                                state
                                    .done
                                    .insert(key, Finished::NotSubmitted(error.clone()));
                            }
                            self.wake.notify_all();
                        }
                    }
                }
                continue;
            }
            if !state.watched.is_empty() && last_poll.elapsed() >= interval {
                let watched = state.watched.clone();
                drop(state);
                last_poll = Instant::now();
                let finished = match self.poll(&watched) {
                    Ok(finished) => {
                        last_squeue = Instant::now();
                        finished
                    }
                    Err(error) if last_squeue.elapsed() >= SQUEUE_DOWN => watched
                        .into_iter()
                        .map(|element| {
                            Finished::Lost(
                                format!(
                                    "unknown: no answer from squeue for {} s ({error})",
                                    SQUEUE_DOWN.as_secs()
                                ),
                                element,
                            )
                        })
                        .collect(),
                    // A transient squeue failure: try again at the next poll.
                    Err(_) => Vec::new(),
                };
                let mut state = self.state.lock().expect("state");
                for outcome in finished {
                    let key = match &outcome {
                        Finished::Result(_, element) | Finished::Lost(_, element) => {
                            element.key.clone()
                        }
                        Finished::NotSubmitted(_) => continue,
                    };
                    state.watched.retain(|element| element.key != key);
                    state.done.insert(key, outcome);
                }
                self.wake.notify_all();
                continue;
            }
            if state.queue.is_empty() && state.watched.is_empty() {
                // Idle until a scheduler thread queues a task.
                drop(self.wake.wait(state).expect("state"));
                continue;
            }
            let wait = if state.queue.is_empty() {
                interval.saturating_sub(last_poll.elapsed())
            } else {
                GATHER
            };
            drop(
                self.wake
                    .wait_timeout(state, wait.max(Duration::from_millis(20)))
                    .expect("state"),
            );
        }
    }
}

impl pipeline::TaskRunner for SlurmRunner {
    fn run(&self, plan: &Plan, store: &Store, task: &Task) -> Option<Executed> {
        let stage = &plan.stage_of(task).name;
        if self.inner.settings.is_local(stage, task.kind) {
            return None;
        }
        let inner = &self.inner;
        let mut state = inner.state.lock().expect("state");
        if state.recovered.is_none() {
            // The first task to submit: the scheduler runs under the store lock, so no other
            // coordinator is submitting into this store while its batches are scanned.
            let recovered = recover(&inner.store).map(|reattach| state.reattach = reattach);
            state.recovered = Some(recovered);
        }
        if let Some(Err(error)) = &state.recovered {
            return Some(failed(
                task,
                format!("cannot scan earlier Slurm jobs of this store: {error}"),
                0.0,
            ));
        }
        if !state.driver {
            state.driver = true;
            let driver = Arc::clone(inner);
            std::thread::spawn(move || driver.drive());
        }
        // A second task of a key already requested waits for the first one's job.
        let first = state.requested.insert(task.key.clone());
        if first {
            match state.reattach.remove(&task.key) {
                Some(element) => {
                    if !inner.quiet {
                        eprintln!(
                            "re-attached {} to Slurm job {} of an earlier run",
                            plan.label(task),
                            element.id()
                        );
                    }
                    if !state.jobs.contains(&element.job) {
                        state.jobs.push(element.job.clone());
                    }
                    if !state.names.contains(&element.name) {
                        state.names.push(element.name.clone());
                    }
                    state.watched.push(element);
                }
                None => {
                    let manifest = inner.manifest(plan, task);
                    state.queue.push(Queued {
                        id: task.id,
                        stage: stage.clone(),
                        manifest,
                    });
                    state.last_queued = Some(Instant::now());
                }
            }
        }
        inner.wake.notify_all();
        let finished = loop {
            // Once interrupted, jobs end CANCELLED by our own scancel: reporting them would let
            // the run finish (exit 3) before the signal thread has seen squeue empty and exited
            // with 130, so every waiting task waits for that exit instead.
            if !state.interrupted
                && let Some(finished) = state.done.get(&task.key)
            {
                break finished.clone();
            }
            state = inner.wake.wait(state).expect("state");
        };
        drop(state);
        Some(record(store, task, finished, inner.forced.contains(stage)))
    }
}

fn failed(task: &Task, error: String, duration_s: f64) -> Executed {
    // A worker on a full shared filesystem reports the OS error in its text (its record is what
    // crosses the job boundary), so a full disk is still said once by `run`.
    let no_space = error.contains("No space left on device") || error.contains("os error 28");
    (
        TaskRecord {
            task: task.id,
            outcome: pipeline::Outcome::Failed,
            duration_s,
            error: Some(error),
            no_space,
        },
        None,
    )
}

fn executed(
    task: &Task,
    duration_s: f64,
    stamps: Vec<pipeline::store::Stamp>,
    synced: bool,
) -> Executed {
    (
        TaskRecord {
            task: task.id,
            outcome: pipeline::Outcome::Executed,
            duration_s,
            error: None,
            no_space: false,
        },
        Some((stamps, synced)),
    )
}

/// What the scheduler records for a finished element. `forced`: the stage was named by `--force`,
/// so an object already in the store does not show that this run's job committed it.
fn record(store: &Store, task: &Task, finished: Finished, forced: bool) -> Executed {
    match finished {
        Finished::NotSubmitted(error) => failed(task, error, 0.0),
        Finished::Lost(state, element) => {
            let waited = element.submitted.elapsed().as_secs_f64();
            match store.verify(&task.key) {
                // Killed between its commit and its result record: the object is whole (it was
                // renamed into place complete) and re-hashed here; it joins the run's final sync.
                Ok(stamps) if !forced => executed(task, waited, stamps, false),
                _ => failed(
                    task,
                    format!(
                        "Slurm job {} ended {state} without a result; log {}",
                        element.id(),
                        element.log.display()
                    ),
                    waited,
                ),
            }
        }
        Finished::Result(record, element) => match record.outcome {
            Outcome::Failed => failed(
                task,
                format!(
                    "{} (Slurm job {} on {}; log {})",
                    record.error.as_deref().unwrap_or("failed"),
                    element.id(),
                    record.host,
                    element.log.display()
                ),
                record.wall_s,
            ),
            // A worker that found the object already committed (`cached`) reports success too:
            // the scheduler then releases the dependents as for an executed task.
            Outcome::Executed | Outcome::Cached => match store.verify(&task.key) {
                // The worker fsynced the object before writing its record.
                Ok(stamps) => executed(task, record.wall_s, stamps, true),
                Err(error) => failed(
                    task,
                    format!(
                        "Slurm job {} reported success but its object does not verify: {error} \
                         (log {})",
                        element.id(),
                        element.log.display()
                    ),
                    record.wall_s,
                ),
            },
        },
    }
}

/// Apply `--executor` (or the settings file's default) to `options`: for Slurm, a runner that
/// cancels its jobs on Ctrl-C, and a scheduler pool wide enough for the tasks in flight.
pub fn choose(
    pipeline: &Path,
    flag: Option<super::settings::ExecutorChoice>,
    plan: &Plan,
    store: &Store,
    options: &mut pipeline::RunOptions,
) -> Result<(), CliError> {
    let settings = super::settings::load(pipeline)?;
    if flag.or(settings.default) != Some(super::settings::ExecutorChoice::Slurm) {
        return Ok(());
    }
    if let Some(name) = settings
        .slurm
        .stage
        .keys()
        .find(|name| plan.stage(name).is_none())
    {
        return Err(CliError::bad_input(format!(
            "{}: [executor.slurm.stage.{name}]: the pipeline has no stage `{name}`",
            settings.path.display()
        )));
    }
    store
        .create()
        .map_err(|error| CliError::unexpected(error.to_string()))?;
    let runner = SlurmRunner::start(settings.slurm, store.root(), &options.force, options.quiet)?;
    runner.cancel_on_interrupt()?;
    options.jobs = options.jobs.max(COORDINATOR_THREADS);
    options.runner = Some(Arc::new(runner));
    Ok(())
}
