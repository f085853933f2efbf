//! Gateways and sub-devices (`hub.md` §4.6, §8): the `$gateway/operation` responder, the
//! admin endpoints, and the fault switches that make every failure reply reproducible.
//!
//! Bindings are registry data (`Device::bound_gateway`), the online state is live session
//! state (`crate::hub::OnlineSubDevice`); this module only keeps the armed faults and the
//! bind timestamp window.

pub mod admin;
pub mod responder;

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The four operations the responder answers.
pub const OPERATIONS: [&str; 4] = ["bind", "unbind", "online", "offline"];

/// An armed fault for one operation (`PUT /gateway/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Answer every element with this result.
    #[serde(default)]
    pub result: Option<i64>,
    /// Do not answer at all (drives the device's 202).
    #[serde(default)]
    pub silent: bool,
    /// Disarm after the next request of the operation.
    #[serde(default)]
    pub next_only: bool,
}

#[derive(Debug, Default)]
struct State {
    faults: HashMap<String, Fault>,
    timestamp_window: Option<u64>,
}

/// Armed gateway faults and the bind timestamp window switch.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Arms `fault` for `operation` (one of [`OPERATIONS`]).
    pub fn arm(&self, operation: &str, fault: Fault) {
        self.lock().faults.insert(operation.to_owned(), fault);
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.lock().faults.clear();
    }

    /// The fault armed for `operation`, consumed if it is `next_only`.
    pub fn take(&self, operation: &str) -> Option<Fault> {
        let mut state = self.lock();
        let fault = *state.faults.get(operation)?;
        if fault.next_only {
            state.faults.remove(operation);
        }
        Some(fault)
    }

    /// Bind timestamps must be within ± this many seconds of the hub clock (`None`: off).
    pub fn timestamp_window(&self) -> Option<u64> {
        self.lock().timestamp_window
    }

    /// Sets the bind timestamp window.
    pub fn set_timestamp_window(&self, window: Option<u64>) {
        self.lock().timestamp_window = window;
    }

    /// Back to defaults (`POST /reset`).
    pub fn reset(&self) {
        *self.lock() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use crate::acl;
    use crate::registry::{NodeType, Registry};

    #[test]
    fn registry_file_carries_gateway_products_and_bindings() {
        let mut registry = Registry::default();
        registry
            .load_json(
                r#"{"products":[{"pid":"GWTEST0001","node_type":"gateway","subproducts":["S3EUVBRJLB"]}],
                   "devices":[{"pid":"GWTEST0001","dn":"gw","secret":"MTIzNDU2Nzg5MDEyMzQ1Ng=="},
                              {"pid":"S3EUVBRJLB","dn":"sub","secret":"MTIzNDU2Nzg5MDEyMzQ1Ng==","bound_gateway":"GWTEST0001/gw"}]}"#,
            )
            .unwrap();
        let gateway = &registry.products["GWTEST0001"];
        assert_eq!(gateway.node_type, NodeType::Gateway);
        assert_eq!(gateway.subproducts, ["S3EUVBRJLB"]);
        assert!(!gateway.other.contains_key("node_type"));
        assert_eq!(registry.products["S3EUVBRJLB"].node_type, NodeType::Device);
        assert_eq!(
            registry.devices["S3EUVBRJLBsub"].bound_gateway.as_deref(),
            Some("GWTEST0001/gw")
        );
        assert_eq!(registry.devices["GWTEST0001gw"].bound_gateway, None);
    }

    #[test]
    fn shipped_gateway_example_registry_loads() {
        let mut registry = Registry::default();
        registry
            .load_json(include_str!("../../registry.gateway.example.json"))
            .unwrap();
        assert_eq!(registry.products["GWTEST0001"].subproducts, ["S3EUVBRJLB"]);
        assert_eq!(registry.devices.len(), 2);
    }

    #[test]
    fn gateway_topics_belong_to_gateway_products_only() {
        let mut registry = Registry::default();
        registry
            .load_json(
                r#"{"products":[{"pid":"GWTEST0001","node_type":"gateway"},{"pid":"PLAIN00001"}]}"#,
            )
            .unwrap();
        let gateway = acl::rights(&registry.products["GWTEST0001"], "gw");
        assert!(acl::may_publish(
            &gateway,
            "$gateway/operation/GWTEST0001/gw"
        ));
        assert!(!acl::may_publish(
            &gateway,
            "$gateway/operation/result/GWTEST0001/gw"
        ));
        assert!(acl::may_subscribe(
            &gateway,
            "GWTEST0001",
            "gw",
            "$gateway/operation/result/GWTEST0001/gw"
        ));
        let plain = acl::rights(&registry.products["PLAIN00001"], "d");
        assert!(!acl::may_publish(&plain, "$gateway/operation/PLAIN00001/d"));
        assert!(!acl::may_subscribe(
            &plain,
            "PLAIN00001",
            "d",
            "$gateway/operation/result/PLAIN00001/d"
        ));
    }

    #[test]
    fn next_only_faults_are_consumed_once() {
        let faults = super::Faults::default();
        let fault = super::Fault {
            result: Some(5),
            silent: false,
            next_only: true,
        };
        faults.arm("bind", fault);
        assert_eq!(faults.take("bind"), Some(fault));
        assert_eq!(faults.take("bind"), None);
        faults.arm(
            "online",
            super::Fault {
                next_only: false,
                ..fault
            },
        );
        assert!(faults.take("online").is_some());
        assert!(faults.take("online").is_some());
        faults.reset();
        assert_eq!(faults.take("online"), None);
    }
}
