//! OTA on the hub (`hub.md` §4.4 and §5): the files the HTTP(S) server serves, their fault
//! switches, the update tasks and the responder switches.
//!
//! All of it sits behind one mutex, like the broker state: a handful of files and devices
//! per test run. File contents are shared `Arc`s, so a download never holds the lock while it
//! writes to a socket.

pub mod admin;
pub mod responder;
pub mod server;

use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Faults applied to the answers for one file (`hub.md` §5). `PUT /files/{id}/faults`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Answer with this status and no body (403, 404, 500, 302, ...).
    pub status: Option<u16>,
    /// Close the connection after this many body bytes.
    pub close_after: Option<u64>,
    /// Stop sending for this many seconds mid-body.
    pub stall_s: Option<f64>,
    /// Body bytes sent before the stall (default: half the body).
    pub stall_after: Option<u64>,
    /// Send at most this many body bytes per second.
    pub throttle_bps: Option<u64>,
    /// Invert the bits of the file byte at this offset (an MD5 mismatch).
    pub flip_offset: Option<u64>,
    /// Answer 200 with the whole file, whatever `Range` says.
    #[serde(default)]
    pub ignore_range: bool,
    /// Send the body with chunked transfer encoding instead of `Content-Length`.
    #[serde(default)]
    pub chunked: bool,
    /// Apply to the next request of this file only, then revert to the standing faults.
    #[serde(default)]
    pub next_only: bool,
}

/// One stored file.
#[derive(Debug, Clone)]
pub struct File {
    /// Contents.
    pub bytes: Arc<Vec<u8>>,
    /// Lowercase hex MD5.
    pub md5: String,
    faults: Faults,
    next_faults: Option<Faults>,
}

/// An update task of one device (`POST /devices/{pid}/{dn}/ota`).
#[derive(Debug, Clone)]
pub struct Task {
    /// The file to push.
    pub file_id: u64,
    /// Target version.
    pub version: String,
    /// Download URL pushed in `update_firmware`.
    pub url: String,
    /// Completed by a `done` report with the target version.
    pub completed: bool,
    /// `result_code`s of the `fail` reports received.
    pub failures: Vec<String>,
    /// Last `percent` reported.
    pub progress: Option<String>,
    /// A module self-update (`kind: "module"`): pushed as `update_resource` on the resource
    /// channel (`cloud.md` §4.7), never as `update_firmware`.
    pub module: bool,
}

/// What `POST /devices/{pid}/{dn}/ota` asks for.
#[derive(Debug, Clone, Copy)]
pub struct TaskRequest<'a> {
    /// The file to push.
    pub file_id: u64,
    /// Target version, 1..=32 bytes.
    pub version: &'a str,
    /// `http` or `https`: which listener the URL names.
    pub scheme: &'a str,
    /// The URL's host (default `127.0.0.1:<port>`).
    pub host: Option<&'a str>,
    /// The URL's query, without `?`.
    pub query: Option<&'a str>,
    /// A module self-update task (`kind: "module"`).
    pub module: bool,
}

impl<'a> TaskRequest<'a> {
    /// An MCU task for `file_id` to `version` on the plain HTTP listener.
    pub fn mcu(file_id: u64, version: &'a str) -> Self {
        TaskRequest {
            file_id,
            version,
            scheme: "http",
            host: None,
            query: None,
            module: false,
        }
    }
}

/// Switches of the OTA responder (`PUT /switches`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Switches {
    /// Answer version reports with `result_code` 1.
    pub reject_version_report: bool,
    /// Do not push `update_firmware` after a version report.
    pub omit_update_push: bool,
    /// Push `update_firmware` twice.
    pub duplicate_update_push: bool,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<u64, File>,
    next_file: u64,
    /// Tasks by client id (`<pid><dn>`).
    tasks: HashMap<String, Task>,
    switches: Switches,
    /// Bound HTTP and HTTPS ports, for default task URLs.
    http_port: u16,
    https_port: u16,
}

/// The hub's OTA state.
#[derive(Debug, Default)]
pub struct Ota {
    state: Mutex<State>,
}

impl Ota {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Stores a file; returns `{id, size, md5}`.
    pub fn add_file(&self, bytes: Vec<u8>) -> Value {
        let mut digest = ota::ImageDigest::new();
        digest.update(&bytes);
        let md5 = String::from_utf8_lossy(&ota::to_hex(&digest.finish())).into_owned();
        let mut state = self.lock();
        state.next_file += 1;
        let id = state.next_file;
        let size = bytes.len();
        state.files.insert(
            id,
            File {
                bytes: Arc::new(bytes),
                md5: md5.clone(),
                faults: Faults::default(),
                next_faults: None,
            },
        );
        json!({"id": id, "size": size, "md5": md5})
    }

    /// Sets the standing faults of a file, or those of its next request; `false` if no such file.
    pub fn set_faults(&self, id: u64, faults: Faults) -> bool {
        let mut state = self.lock();
        let Some(file) = state.files.get_mut(&id) else {
            return false;
        };
        if faults.next_only {
            file.next_faults = Some(faults);
        } else {
            file.faults = faults;
            file.next_faults = None;
        }
        true
    }

    /// The contents and the faults for one request of file `id` (consuming next-only faults).
    pub fn take_for_request(&self, id: u64) -> Option<(Arc<Vec<u8>>, Faults)> {
        let mut state = self.lock();
        let file = state.files.get_mut(&id)?;
        let faults = file
            .next_faults
            .take()
            .unwrap_or_else(|| file.faults.clone());
        Some((file.bytes.clone(), faults))
    }

    /// Records the ports the HTTP and HTTPS listeners got.
    pub fn set_ports(&self, http: u16, https: u16) {
        let mut state = self.lock();
        state.http_port = http;
        state.https_port = https;
    }

    /// Creates (or replaces) the task of `client_id`; returns the task, or an error text.
    pub fn create_task(
        &self,
        client_id: &str,
        request: TaskRequest<'_>,
    ) -> Result<Task, &'static str> {
        let TaskRequest {
            file_id,
            version,
            scheme,
            host,
            query,
            module,
        } = request;
        let mut state = self.lock();
        if !state.files.contains_key(&file_id) {
            return Err("no such file");
        }
        if version.is_empty() || version.len() > 32 {
            return Err("version must be 1..32 bytes");
        }
        let port = match scheme {
            "http" => state.http_port,
            "https" => state.https_port,
            _ => return Err("scheme must be http or https"),
        };
        let host = host.map_or_else(|| format!("127.0.0.1:{port}"), str::to_owned);
        let query = query.map(|query| format!("?{query}")).unwrap_or_default();
        let task = Task {
            file_id,
            version: version.to_owned(),
            url: format!("{scheme}://{host}/ota/{file_id}{query}"),
            completed: false,
            failures: Vec::new(),
            progress: None,
            module,
        };
        state.tasks.insert(client_id.to_owned(), task.clone());
        Ok(task)
    }

    /// Cancels the task of `client_id`; whether there was one.
    pub fn cancel_task(&self, client_id: &str) -> bool {
        self.lock().tasks.remove(client_id).is_some()
    }

    /// The task of `client_id`, if any.
    pub fn task(&self, client_id: &str) -> Option<Task> {
        self.lock().tasks.get(client_id).cloned()
    }

    /// The `update_firmware` payload for the pending task of `client_id` when its target
    /// differs from `reported` (or always, with `reported` `None`).
    pub fn pending_push(&self, client_id: &str, reported: Option<&str>) -> Option<String> {
        let state = self.lock();
        let task = state
            .tasks
            .get(client_id)
            .filter(|task| !task.completed && !task.module)?;
        if reported == Some(task.version.as_str()) {
            return None;
        }
        let file = state.files.get(&task.file_id)?;
        Some(format!(
            r#"{{"file_size":{},"md5sum":"{}","type":"update_firmware","url":{},"version":{}}}"#,
            file.bytes.len(),
            file.md5,
            Value::from(task.url.as_str()),
            Value::from(task.version.as_str())
        ))
    }

    /// The `update_resource` payload (`cloud.md` §4.7) for the pending module task of
    /// `client_id` when its target differs from the `reported` version of `resource`.
    pub fn pending_resource_push(
        &self,
        client_id: &str,
        resource: &str,
        reported: &str,
    ) -> Option<String> {
        let state = self.lock();
        let task = state
            .tasks
            .get(client_id)
            .filter(|task| !task.completed && task.module && task.version != reported)?;
        let file = state.files.get(&task.file_id)?;
        Some(format!(
            r#"{{"method":"update_resource","resource_name":{},"resource_type":"FILE","version":{},"url":{},"md5sum":"{}","file_size":{}}}"#,
            Value::from(resource),
            Value::from(task.version.as_str()),
            Value::from(task.url.as_str()),
            file.md5,
            file.bytes.len()
        ))
    }

    /// Changes the task of `client_id`, if any.
    pub fn with_task(&self, client_id: &str, change: impl FnOnce(&mut Task)) {
        if let Some(task) = self.lock().tasks.get_mut(client_id) {
            change(task);
        }
    }

    /// The responder switches.
    pub fn switches(&self) -> Switches {
        self.lock().switches.clone()
    }

    /// Replaces the responder switches.
    pub fn set_switches(&self, switches: Switches) {
        self.lock().switches = switches;
    }

    /// Forgets files, tasks and switches (`POST /reset`); the ports stay.
    pub fn reset(&self) {
        let mut state = self.lock();
        let (http_port, https_port) = (state.http_port, state.https_port);
        *state = State {
            http_port,
            https_port,
            ..State::default()
        };
    }
}

/// JSON of a task for the admin API.
pub fn task_json(task: &Task) -> Value {
    json!({
        "file_id": task.file_id,
        "version": task.version,
        "url": task.url,
        "completed": task.completed,
        "failures": task.failures,
        "progress": task.progress,
        "kind": if task.module { "module" } else { "mcu" },
    })
}
