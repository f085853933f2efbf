extern crate std;

use std::vec::Vec;

use super::Fifo;

fn contents<const N: usize>(ring: &Fifo<u16, N>) -> Vec<u16> {
    ring.iter().collect()
}

#[test]
fn items_leave_in_order_across_the_wrap_and_a_full_ring_refuses_more() {
    let mut ring = Fifo::<u16, 3>::new(0);
    assert!(ring.is_empty());
    assert_eq!(ring.pop_front(), None);
    assert_eq!(ring.push_back(1), Ok(()));
    assert_eq!(ring.push_back(2), Ok(()));
    assert_eq!(ring.pop_front(), Some(1));
    assert_eq!(ring.push_back(3), Ok(()));
    assert_eq!(ring.push_back(4), Ok(()));
    assert!(ring.is_full());
    assert_eq!(ring.push_back(5), Err(5));
    assert_eq!(ring.push_front(6), Err(6));
    assert_eq!(contents(&ring), [2, 3, 4]);
    assert_eq!(ring.pop_front(), Some(2));
    assert_eq!(ring.push_front(7), Ok(()));
    assert_eq!(ring.len(), 3);
    assert_eq!(contents(&ring), [7, 3, 4]);
    assert_eq!(ring.pop_front(), Some(7));
    assert_eq!(ring.pop_front(), Some(3));
    assert_eq!(ring.pop_front(), Some(4));
    assert_eq!(ring.pop_front(), None);
}

#[test]
fn a_front_push_into_an_empty_ring_wraps_to_the_last_place() {
    let mut ring = Fifo::<u16, 4>::new(0);
    assert_eq!(ring.push_front(9), Ok(()));
    assert_eq!(ring.push_back(10), Ok(()));
    assert_eq!(contents(&ring), [9, 10]);
}

#[test]
fn retain_keeps_the_order_of_the_kept_items_across_the_wrap() {
    let mut ring = Fifo::<u16, 4>::new(0);
    for item in [9, 9, 1, 2] {
        ring.push_back(item).unwrap();
    }
    ring.pop_front();
    ring.pop_front();
    for item in [3, 4] {
        ring.push_back(item).unwrap();
    }
    ring.retain(|item| *item != 2);
    assert_eq!(contents(&ring), [1, 3, 4]);
    assert_eq!(ring.len(), 3);
    ring.push_back(5).unwrap();
    assert_eq!(contents(&ring), [1, 3, 4, 5]);
    ring.clear();
    assert!(ring.is_empty());
    assert_eq!(ring.iter().count(), 0);
}

#[test]
fn rings_with_the_same_items_are_equal_wherever_the_items_lie() {
    let mut moved = Fifo::<u16, 3>::new(0);
    moved.push_back(5).unwrap();
    moved.push_back(1).unwrap();
    moved.pop_front();
    let mut fresh = Fifo::<u16, 3>::new(0);
    fresh.push_back(1).unwrap();
    assert_eq!(moved, fresh);
    fresh.push_back(2).unwrap();
    assert_ne!(moved, fresh);
}

#[test]
fn two_bytes_of_bookkeeping_and_the_items_alignment() {
    assert_eq!(core::mem::size_of::<Fifo<u16, 10>>(), 22);
    assert_eq!(core::mem::size_of::<Fifo<[u8; 9], 12>>(), 110);
}
