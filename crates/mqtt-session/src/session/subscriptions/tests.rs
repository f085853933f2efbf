extern crate std;

use super::*;
use std::format;
use std::string::String as StdString;
use std::vec::Vec as StdVec;

fn filters(table: &SubscriptionTable, kind: SlotKind) -> StdVec<(StdString, QoS)> {
    table
        .slots(kind)
        .iter()
        .map(|slot| (slot.joined().as_str().into(), slot.qos))
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
    // The arena holds exactly the four prefixes; the tail is stored once.
    assert_eq!(table.internal.start(INTERNAL_SLOTS), INTERNAL_FILTER_BYTES);
    assert_eq!(table.tail.as_str(), tail);
    assert!(table.has_no_room_for(SlotKind::Internal, "$x"));
}

#[test]
fn an_internal_filter_without_the_shared_tail_is_stored_whole_within_the_arena() {
    let mut table = SubscriptionTable::default();
    subscribed(
        &mut table,
        SlotKind::Internal,
        "$ota/update/P/dev",
        QoS::AtMostOnce,
    );
    // Another device's topic: its last two levels differ from the tail in use.
    subscribed(
        &mut table,
        SlotKind::Internal,
        "$ota/update/Q/other",
        QoS::AtLeastOnce,
    );
    assert_eq!(
        filters(&table, SlotKind::Internal),
        [
            ("$ota/update/P/dev".into(), QoS::AtMostOnce),
            ("$ota/update/Q/other".into(), QoS::AtLeastOnce)
        ]
    );
    let slots = table.slots(SlotKind::Internal);
    let (first, second) = (slots.get(0).unwrap(), slots.get(1).unwrap());
    assert_eq!((first.filter, first.tail), ("$ota/update/", "P/dev"));
    assert_eq!((second.filter, second.tail), ("$ota/update/Q/other", ""));
    assert!(table.routes(SlotKind::Internal, "$ota/update/P/dev"));
    assert!(table.routes(SlotKind::Internal, "$ota/update/Q/other"));
    assert!(!table.routes(SlotKind::Internal, "$ota/update/P/other"));
    assert_eq!(
        table.position(SlotKind::Internal, "$ota/update/Q/other"),
        Some(1)
    );
    assert_eq!(table.position(SlotKind::Internal, "$ota/update/P/de"), None);
    // 12 + 19 arena bytes used: a whole filter of 50 more does not fit.
    let long = format!("$x/{}", "y".repeat(47));
    assert!(table.has_no_room_for(SlotKind::Internal, &long));
    assert_eq!(table.reserve(SlotKind::Internal, &long), None);
    assert_eq!(table.internal.entries.len(), 2);
    assert!(table.reserve(SlotKind::Internal, &long[1..]).is_some());
}

#[test]
fn the_tail_is_chosen_again_once_no_slot_uses_it() {
    let mut table = SubscriptionTable::default();
    subscribed(
        &mut table,
        SlotKind::Internal,
        "$ota/update/P/dev",
        QoS::AtMostOnce,
    );
    table.remove(SlotKind::Internal, 0);
    let filter = "$sys/operation/result/Q/other";
    subscribed(&mut table, SlotKind::Internal, filter, QoS::AtMostOnce);
    let slot = table.slots(SlotKind::Internal).get(0).unwrap();
    assert_eq!(
        (slot.filter, slot.tail),
        ("$sys/operation/result/", "Q/other")
    );
    let (kind, index, owned) = table.nth_overall(0).unwrap();
    assert_eq!(
        (kind, index, owned.filter.as_str()),
        (SlotKind::Internal, 0, filter)
    );
    // A pending filter keeps the tail in use until its SUBACK refuses it.
    table.remove(SlotKind::Internal, 0);
    let pending = table
        .reserve(SlotKind::Internal, "$ota/update/R/third")
        .unwrap();
    subscribed(
        &mut table,
        SlotKind::Internal,
        "$x/R/third",
        QoS::AtMostOnce,
    );
    assert_eq!(
        table.answered(SlotKind::Internal, pending, None, false),
        Granted::Refused
    );
    assert_eq!(
        table.slots(SlotKind::Internal).get(0).map(|slot| slot.tail),
        Some("R/third")
    );
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
