//! The event log behind `GET /events` (`hub.md` §8).
//!
//! Tests assert on what crossed the wire instead of sleeping, so every packet the hub
//! receives or sends is appended here with a sequence number, and readers long-poll for
//! entries after the last number they saw.

use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Entries kept before the oldest are dropped (bounded memory for long runs).
const CAPACITY: usize = 100_000;

/// Append-only, bounded, long-pollable list of JSON events.
#[derive(Debug, Default)]
pub struct EventLog {
    entries: Mutex<Entries>,
    appended: Notify,
}

#[derive(Debug, Default)]
struct Entries {
    next_sequence: u64,
    list: std::collections::VecDeque<Value>,
}

impl EventLog {
    /// Appends `event` (an object) with fields `seq` and `kind` added.
    pub fn record(&self, kind: &str, mut event: Value) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries.next_sequence += 1;
        if let Value::Object(map) = &mut event {
            map.insert("seq".to_owned(), json!(entries.next_sequence));
            map.insert("kind".to_owned(), json!(kind));
        }
        if entries.list.len() == CAPACITY {
            entries.list.pop_front();
        }
        entries.list.push_back(event);
        drop(entries);
        self.appended.notify_waiters();
    }

    /// Entries with a sequence number greater than `since`.
    pub fn since(&self, since: u64) -> Vec<Value> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries
            .list
            .iter()
            .filter(|event| {
                event["seq"]
                    .as_u64()
                    .is_some_and(|sequence| sequence > since)
            })
            .cloned()
            .collect()
    }

    /// Like [`EventLog::since`], but waits up to `wait` for at least one entry.
    pub async fn wait_since(&self, since: u64, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before checking, so an append in between is not missed.
            let appended = self.appended.notified();
            let events = self.since(since);
            if !events.is_empty() {
                return events;
            }
            if tokio::time::timeout_at(deadline, appended).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Drops every entry; sequence numbers keep growing so old cursors stay valid.
    pub fn clear(&self) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries.list.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn since_returns_only_newer_entries_with_kind_and_sequence() {
        let log = EventLog::default();
        log.record("connect", json!({"client_id": "a"}));
        log.record("connack", json!({"rc": 0}));
        let newer = log.since(1);
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0]["kind"], "connack");
        assert_eq!(newer[0]["seq"], 2);
        assert!(log.wait_since(2, Duration::from_millis(1)).await.is_empty());
    }

    #[tokio::test]
    async fn waiting_reader_wakes_on_append() {
        let log = std::sync::Arc::new(EventLog::default());
        let reader = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_since(0, Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        log.record("publish", json!({}));
        let events = reader.await.unwrap();
        assert_eq!(events.len(), 1);
    }
}
