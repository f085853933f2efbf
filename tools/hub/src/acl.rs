//! Topic access control (`hub.md` §4.2, `cloud.md` §2.4).
//!
//! Rights are a list of topic patterns (a `+` stands for one free level, as in
//! `$rrpc/rxd/<pid>/<dn>/+`) with publish and subscribe flags. The same list answers three
//! questions: may the device publish this topic, may it subscribe this filter, and may a
//! message on this topic be delivered to it through a wildcard filter it holds.

use crate::registry::{NodeType, Product, TopicRights};
use mqtt_session::topic;

/// Longest filter the hub grants (platform limit).
pub const MAX_FILTER_LENGTH: usize = 255;
/// Deepest filter the hub grants (platform limit).
pub const MAX_FILTER_LEVELS: usize = 10;

/// One topic pattern with what the device may do on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Right {
    /// Topic, or a filter with `+` levels.
    pub pattern: String,
    /// Device may publish.
    pub publish: bool,
    /// Device may subscribe.
    pub subscribe: bool,
}

impl Right {
    fn new(pattern: String, publish: bool, subscribe: bool) -> Self {
        Self {
            pattern,
            publish,
            subscribe,
        }
    }
}

const THING_KINDS: [&str; 5] = ["property", "event", "action", "service", "raw"];

/// Every right of device `<pid>/<dn>` of `product`.
pub fn rights(product: &Product, dn: &str) -> Vec<Right> {
    let pid = product.pid.as_str();
    let mut rights = vec![
        Right::new(format!("{pid}/{dn}/data"), true, true),
        Right::new(format!("{pid}/{dn}/control"), false, true),
        Right::new(format!("{pid}/{dn}/event"), true, false),
        Right::new(format!("$ota/report/{pid}/{dn}"), true, false),
        Right::new(format!("$ota/update/{pid}/{dn}"), false, true),
        Right::new(format!("$sys/operation/{pid}/{dn}"), true, false),
        Right::new(format!("$sys/operation/result/{pid}/{dn}"), false, true),
        Right::new(format!("$shadow/operation/{pid}/{dn}"), true, false),
        Right::new(format!("$shadow/operation/result/{pid}/{dn}"), false, true),
        Right::new(format!("$rrpc/rxd/{pid}/{dn}/+"), false, true),
        Right::new(format!("$broadcast/rxd/{pid}/{dn}"), false, true),
        Right::new(format!("$rrpc/txd/{pid}/{dn}/+"), true, false),
        Right::new(format!("$log/operation/{pid}/{dn}"), true, false),
    ];
    if product.thing_topics {
        for kind in THING_KINDS {
            rights.push(Right::new(
                format!("$thing/up/{kind}/{pid}/{dn}"),
                true,
                false,
            ));
            rights.push(Right::new(
                format!("$thing/down/{kind}/{pid}/{dn}"),
                false,
                true,
            ));
        }
    }
    if product.node_type == NodeType::Gateway {
        rights.push(Right::new(
            format!("$gateway/operation/{pid}/{dn}"),
            true,
            false,
        ));
        rights.push(Right::new(
            format!("$gateway/operation/result/{pid}/{dn}"),
            false,
            true,
        ));
    }
    for custom in &product.custom_topics {
        let pattern = custom.topic.replace("${deviceName}", dn);
        let (publish, subscribe) = match custom.rights {
            TopicRights::Pub => (true, false),
            TopicRights::Sub => (false, true),
            TopicRights::Pubsub => (true, true),
        };
        rights.push(Right::new(pattern, publish, subscribe));
    }
    rights
}

/// May the device publish on `topic_name`?
pub fn may_publish(rights: &[Right], topic_name: &str) -> bool {
    rights
        .iter()
        .any(|right| right.publish && topic::matches(&right.pattern, topic_name))
}

/// May a message on `topic_name` be delivered to the device (it holds subscribe rights)?
pub fn may_receive(rights: &[Right], topic_name: &str) -> bool {
    rights
        .iter()
        .any(|right| right.subscribe && topic::matches(&right.pattern, topic_name))
}

/// May the device subscribe `filter`?
///
/// A filter equal to a subscribe pattern is granted as is (e.g. `$rrpc/rxd/<pid>/<dn>/+`).
/// Another wildcard filter is granted only inside the device's own `<pid>/<dn>/` tree; the
/// messages it then receives are still limited by [`may_receive`].
pub fn may_subscribe(rights: &[Right], pid: &str, dn: &str, filter: &str) -> bool {
    if filter.len() > MAX_FILTER_LENGTH || filter.split('/').count() > MAX_FILTER_LEVELS {
        return false;
    }
    if rights
        .iter()
        .any(|right| right.subscribe && right.pattern == filter)
    {
        return true;
    }
    if filter.contains(['+', '#']) {
        let mut levels = filter.split('/');
        return levels.next() == Some(pid) && levels.next() == Some(dn);
    }
    may_receive(rights, filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::CustomTopic;

    const PID: &str = "ABCDEFGHIJ";

    fn device_rights(product: &Product) -> Vec<Right> {
        rights(product, "dev")
    }

    #[test]
    fn default_topics_follow_the_cloud_table() {
        let rights = device_rights(&Product::with_defaults(PID));
        assert!(may_publish(&rights, "ABCDEFGHIJ/dev/data"));
        assert!(may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/data"));
        assert!(!may_publish(&rights, "ABCDEFGHIJ/dev/control"));
        assert!(may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/control"));
        assert!(may_publish(&rights, "ABCDEFGHIJ/dev/event"));
        assert!(!may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/event"));
        assert!(may_publish(&rights, "$thing/up/property/ABCDEFGHIJ/dev"));
        assert!(!may_subscribe(
            &rights,
            PID,
            "dev",
            "$thing/up/property/ABCDEFGHIJ/dev"
        ));
        assert!(may_subscribe(
            &rights,
            PID,
            "dev",
            "$thing/down/service/ABCDEFGHIJ/dev"
        ));
        assert!(may_publish(&rights, "$sys/operation/ABCDEFGHIJ/dev"));
        assert!(may_subscribe(
            &rights,
            PID,
            "dev",
            "$sys/operation/result/ABCDEFGHIJ/dev"
        ));
        assert!(may_publish(&rights, "$rrpc/txd/ABCDEFGHIJ/dev/42"));
        assert!(may_subscribe(
            &rights,
            PID,
            "dev",
            "$rrpc/rxd/ABCDEFGHIJ/dev/+"
        ));
        assert!(may_publish(&rights, "$log/operation/ABCDEFGHIJ/dev"));
        assert!(!may_publish(&rights, "ABCDEFGHIJ/other/data"));
        assert!(!may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/other/data"));
    }

    #[test]
    fn wildcards_are_granted_only_inside_the_own_tree() {
        let rights = device_rights(&Product::with_defaults(PID));
        assert!(may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/#"));
        assert!(may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/+"));
        assert!(!may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/#"));
        assert!(!may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/+/data"));
        assert!(!may_subscribe(&rights, PID, "dev", "#"));
        assert!(!may_subscribe(
            &rights,
            PID,
            "dev",
            "$thing/down/+/ABCDEFGHIJ/dev"
        ));
        // Delivery through `<pid>/<dn>/#` is still limited to receivable topics.
        assert!(may_receive(&rights, "ABCDEFGHIJ/dev/control"));
        assert!(!may_receive(&rights, "ABCDEFGHIJ/dev/event"));
    }

    #[test]
    fn long_or_deep_filters_are_refused() {
        let rights = device_rights(&Product::with_defaults(PID));
        let deep = format!("{PID}/dev/a/b/c/d/e/f/g/h/i");
        assert!(!may_subscribe(&rights, PID, "dev", &deep));
        let long = format!("{PID}/dev/{}", "x".repeat(250));
        assert!(!may_subscribe(&rights, PID, "dev", &long));
    }

    #[test]
    fn thing_topics_switch_and_custom_topics_apply() {
        let mut product = Product::with_defaults(PID);
        product.thing_topics = false;
        product.custom_topics.push(CustomTopic {
            topic: "ABCDEFGHIJ/${deviceName}/custom".to_owned(),
            rights: TopicRights::Sub,
        });
        let rights = device_rights(&product);
        assert!(!may_publish(&rights, "$thing/up/property/ABCDEFGHIJ/dev"));
        assert!(!may_subscribe(
            &rights,
            PID,
            "dev",
            "$thing/down/property/ABCDEFGHIJ/dev"
        ));
        assert!(may_subscribe(&rights, PID, "dev", "ABCDEFGHIJ/dev/custom"));
        assert!(!may_publish(&rights, "ABCDEFGHIJ/dev/custom"));
        assert!(may_subscribe(
            &rights,
            PID,
            "dev",
            "$ota/update/ABCDEFGHIJ/dev"
        ));
    }
}
