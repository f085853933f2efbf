//! Topic names and topic filters (MQTT 3.1.1 §4.7).
//!
//! The codec rejects packets whose topics break these rules, and the session uses
//! [`matches()`] to route an inbound PUBLISH to user and internal subscriptions: the broker
//! only tells us *that* a message arrived, not which of our filters caused it.

/// Checks that `name` may be used as a PUBLISH topic: non-empty, no `+` or `#`, no U+0000.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(|byte| matches!(byte, b'+' | b'#' | 0))
}

/// Checks that `filter` may be subscribed: non-empty, no U+0000, `+` only as a whole level
/// and `#` only as the whole last level.
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.as_bytes().contains(&0) {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "+" => {}
            "#" if is_last => {}
            other if other.contains(['+', '#']) => return false,
            _ => {}
        }
    }
    true
}

/// Tells whether the topic name `topic` matches the subscription filter `filter`.
///
/// Filters starting with a wildcard never match topics starting with `$` (MQTT 3.1.1
/// §4.7.2), so `#` does not swallow `$ota/...` system topics.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(expected), Some(actual)) if expected == actual => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_validity_follows_wildcard_placement_rules() {
        for valid in [
            "a",
            "a/b",
            "+",
            "#",
            "a/+/b",
            "a/#",
            "+/+",
            "/",
            "a//b",
            "$ota/update/x/y",
        ] {
            assert!(is_valid_filter(valid), "{valid}");
        }
        for invalid in ["", "a+", "a/#/b", "#/a", "a/b#", "+a", "a\0b"] {
            assert!(!is_valid_filter(invalid), "{invalid}");
        }
    }

    #[test]
    fn topic_names_reject_wildcards_and_empty() {
        assert!(is_valid_topic_name("a/b"));
        assert!(!is_valid_topic_name(""));
        assert!(!is_valid_topic_name("a/+"));
        assert!(!is_valid_topic_name("a/#"));
    }

    #[test]
    fn matching_handles_single_and_multi_level_wildcards() {
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/c"));
        assert!(matches("a/+", "a/b"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("a/#", "a"));
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("#", "x/y"));
        assert!(matches("+/+", "/x"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("#", "$ota/update/p/d"));
        assert!(!matches("+/update/p/d", "$ota/update/p/d"));
        assert!(matches("$ota/update/+/+", "$ota/update/p/d"));
    }
}
