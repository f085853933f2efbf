extern crate std;

use super::*;
use std::format;
use std::string::String as StdString;
use std::vec::Vec as StdVec;

fn filters(table: &SubscriptionTable, kind: SlotKind) -> StdVec<(StdString, QoS)> {
    table
        .slots(kind)
        .iter()
        .map(|slot| (slot.filter.into(), slot.qos))
        .collect()
}

/// Reserves `filter` and grants it `qos`, as a SUBACK would.
fn subscribed(table: &mut SubscriptionTable, kind: SlotKind, filter: &str, qos: QoS) {
    let id = table.reserve(kind, filter).expect("room");
    assert!(matches!(
        table.answered(kind, id, Some(qos), false),
        Granted::Stored(_)
    ));
}

#[test]
fn ten_user_filters_of_128_bytes_fit_and_an_eleventh_is_refused() {
    let mut table = SubscriptionTable::default();
    for index in 0..USER_SLOTS {
        let filter = format!("{index:0>128}");
        assert!(!table.has_no_room_for(SlotKind::User, &filter));
        subscribed(&mut table, SlotKind::User, &filter, QoS::AtLeastOnce);
    }
    let listed = filters(&table, SlotKind::User);
    assert_eq!(listed.len(), USER_SLOTS);
    for (index, (filter, _)) in listed.iter().enumerate() {
        assert_eq!(filter, &format!("{index:0>128}"));
    }
    assert!(table.has_no_room_for(SlotKind::User, "a/b"));
    assert_eq!(table.reserve(SlotKind::User, "a/b"), None);
    assert!(!table.has_no_room_for(SlotKind::User, &format!("{:0>128}", 3)));
    assert_eq!(table.reserve(SlotKind::User, &"x".repeat(129)), None);
}

#[test]
fn the_modules_four_internal_filters_fit_at_their_longest() {
    let tail = format!("{}/{}", "P".repeat(10), "d".repeat(48));
    let prefixes = [
        "$ota/update/",
        "$thing/down/service/",
        "$gateway/operation/result/",
        "$sys/operation/result/",
    ];
    let mut table = SubscriptionTable::default();
    for prefix in prefixes {
        subscribed(
            &mut table,
            SlotKind::Internal,
            &format!("{prefix}{tail}"),
            QoS::AtMostOnce,
        );
    }
    let expected: StdVec<_> = prefixes
        .iter()
        .map(|prefix| (format!("{prefix}{tail}"), QoS::AtMostOnce))
        .collect();
    assert_eq!(filters(&table, SlotKind::Internal), expected);
    // The arena is exactly full: the internal table takes no byte from the user's 1,280.
    assert_eq!(table.internal.start(INTERNAL_SLOTS), INTERNAL_FILTER_BYTES);
    assert!(table.has_no_room_for(SlotKind::Internal, "$x"));
}

#[test]
fn an_internal_filter_over_the_arena_is_refused_without_a_trace() {
    let mut table = SubscriptionTable::default();
    subscribed(
        &mut table,
        SlotKind::Internal,
        &"a".repeat(128),
        QoS::AtMostOnce,
    );
    subscribed(
        &mut table,
        SlotKind::Internal,
        &"b".repeat(128),
        QoS::AtMostOnce,
    );
    let third = "c".repeat(INTERNAL_FILTER_BYTES - 256 + 1);
    assert!(table.has_no_room_for(SlotKind::Internal, &third));
    assert_eq!(table.reserve(SlotKind::Internal, &third), None);
    assert_eq!(table.internal.entries.len(), 2);
    assert!(table.reserve(SlotKind::Internal, &third[1..]).is_some());
}

#[test]
fn a_granted_filter_moves_behind_the_granted_ones_with_its_bytes() {
    let mut table = SubscriptionTable::default();
    subscribed(&mut table, SlotKind::User, "first/one", QoS::AtMostOnce);
    let pending = table.reserve(SlotKind::User, "second").unwrap();
    let later = table.reserve(SlotKind::User, "third/filter/#").unwrap();
    assert_eq!(
        filters(&table, SlotKind::User).len(),
        1,
        "pending slots are unlisted"
    );
    assert_eq!(
        table.answered(SlotKind::User, later, Some(QoS::AtLeastOnce), false),
        Granted::Stored(1)
    );
    assert_eq!(
        table.answered(SlotKind::User, pending, Some(QoS::AtMostOnce), false),
        Granted::Stored(2)
    );
    assert_eq!(
        filters(&table, SlotKind::User),
        [
            ("first/one".into(), QoS::AtMostOnce),
            ("third/filter/#".into(), QoS::AtLeastOnce),
            ("second".into(), QoS::AtMostOnce),
        ]
    );
    assert!(table.routes(SlotKind::User, "third/filter/x"));
}

#[test]
fn removals_close_the_gap_and_refusals_drop_new_filters_only() {
    let mut table = SubscriptionTable::default();
    for filter in ["a/1", "bb/22", "ccc/333"] {
        subscribed(&mut table, SlotKind::User, filter, QoS::AtLeastOnce);
    }
    table.remove(SlotKind::User, 1);
    let refused = table.reserve(SlotKind::User, "new").unwrap();
    let kept = table.reserve(SlotKind::User, "kept").unwrap();
    assert_eq!(
        table.answered(SlotKind::User, refused, None, false),
        Granted::Refused
    );
    assert_eq!(
        table.answered(SlotKind::User, kept, None, true),
        Granted::Refused,
        "still awaited: the slot stays"
    );
    assert_eq!(table.user.entries.len(), 3);
    table.drop_awaited();
    assert_eq!(
        filters(&table, SlotKind::User),
        [
            ("a/1".into(), QoS::AtLeastOnce),
            ("ccc/333".into(), QoS::AtLeastOnce)
        ]
    );
    assert_eq!(table.position(SlotKind::User, "ccc/333"), Some(1));
    let slot = table.nth_overall(1).unwrap();
    assert_eq!(
        (slot.0, slot.1, slot.2.filter.as_str()),
        (SlotKind::User, 1, "ccc/333")
    );
    table.clear();
    assert!(table.slots(SlotKind::User).is_empty());
}
