//! A new filter takes its slot when its SUBSCRIBE is sent (the in-flight entry keeps no copy
//! of it): until its SUBACK grants it, it is not listed, routes nothing and cannot be
//! unsubscribed; a refusal, a timeout or the link's end removes it.

mod session_support;

use mqtt_session::codec::QoS;
use mqtt_session::session::{Event, SlotKind, SubscribeError, UnsubscribeError};
use session_support::{other, Harness, Seen};

#[test]
fn an_awaited_filter_is_invisible_until_granted_and_then_listed_in_grant_order() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a", QoS::AtMostOnce);
    let first = harness
        .session
        .subscribe(SlotKind::User, "b/#", QoS::AtLeastOnce, harness.now)
        .unwrap();
    let second = harness
        .session
        .subscribe(SlotKind::User, "c", QoS::AtMostOnce, harness.now)
        .unwrap();
    harness.take_sent();
    assert_eq!(
        harness.user_filters(),
        vec![("a".to_owned(), QoS::AtMostOnce)]
    );
    // Not routed: a message on the awaited filter's topic matches nothing yet.
    harness.publish_in("b/x", b"early", QoS::AtMostOnce, 0, false);
    assert!(harness.events().is_empty());
    assert_eq!(harness.session.statistics().unmatched_dropped, 1);
    // Not removable before its SUBACK.
    assert_eq!(
        harness
            .session
            .unsubscribe(SlotKind::User, "b/#", harness.now),
        Err(UnsubscribeError::NotSubscribed)
    );
    // Granted in the reverse order: listed in the order of the grants.
    harness.suback(second.get(), 0);
    assert_eq!(
        harness.events(),
        vec![other(Event::Subscribed {
            packet_id: second,
            kind: SlotKind::User,
            slot: 1,
            granted: QoS::AtMostOnce
        })]
    );
    harness.suback(first.get(), 1);
    assert_eq!(
        harness.events(),
        vec![other(Event::Subscribed {
            packet_id: first,
            kind: SlotKind::User,
            slot: 2,
            granted: QoS::AtLeastOnce
        })]
    );
    assert_eq!(
        harness.user_filters(),
        vec![
            ("a".to_owned(), QoS::AtMostOnce),
            ("c".to_owned(), QoS::AtMostOnce),
            ("b/#".to_owned(), QoS::AtLeastOnce)
        ]
    );
    harness.publish_in("b/x", b"now", QoS::AtMostOnce, 0, false);
    assert!(matches!(&harness.events()[..], [Seen::Message { .. }]));
}

#[test]
fn a_refused_or_timed_out_new_filter_gives_its_slot_back() {
    let mut harness = Harness::connected(true);
    for index in 0..9 {
        harness.subscribe_granted(SlotKind::User, &format!("t/{index}"), QoS::AtMostOnce);
    }
    let refused = harness
        .session
        .subscribe(SlotKind::User, "t/9", QoS::AtMostOnce, harness.now)
        .unwrap();
    // The tenth slot is taken while the SUBACK is awaited.
    assert_eq!(
        harness
            .session
            .subscribe(SlotKind::User, "t/10", QoS::AtMostOnce, harness.now),
        Err(SubscribeError::TableFull)
    );
    harness.suback(refused.get(), 0x80);
    harness.events();
    let timed_out = harness
        .session
        .subscribe(SlotKind::User, "t/10", QoS::AtMostOnce, harness.now)
        .unwrap();
    assert_eq!(
        harness.advance_to(harness.now + 5_000),
        vec![other(Event::SubscribeTimeout {
            packet_id: timed_out,
            kind: SlotKind::User
        })]
    );
    harness.subscribe_granted(SlotKind::User, "t/11", QoS::AtMostOnce);
    assert_eq!(harness.user_filters().len(), 10);
    assert_eq!(harness.user_filters()[9].0, "t/11");
}

#[test]
fn a_new_filter_awaited_when_the_link_drops_is_not_subscribed_again() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "kept", QoS::AtMostOnce);
    harness
        .session
        .subscribe(SlotKind::User, "lost", QoS::AtMostOnce, harness.now)
        .unwrap();
    harness.take_sent();
    harness.session.transport_closed(harness.now);
    harness.events();
    assert_eq!(
        harness.user_filters(),
        vec![("kept".to_owned(), QoS::AtMostOnce)]
    );
}
