//! The online list and the exact result lines.

use crate::{
    write_online_entry, write_result, Gateway, OnlineList, Operation, Outcome, SubDevice,
    BIND_TEST_RESPONSE, MAXIMUM_ONLINE_ENTRY, MAXIMUM_RESULT_LINE, ONLINE_CAPACITY,
    ONLINE_TEST_RESPONSE,
};
use std::format;
use std::vec::Vec;

fn numbered(index: usize) -> SubDevice {
    SubDevice::new(b"PRODUCT001", format!("dev{index}").as_bytes()).unwrap()
}

#[test]
fn list_keeps_order_and_removes_in_place() {
    let mut list = OnlineList::new();
    for index in 0..ONLINE_CAPACITY {
        list.insert(numbered(index)).unwrap();
    }
    assert!(list.is_full());
    assert!(list.insert(numbered(99)).is_err());
    assert_eq!(list.len(), ONLINE_CAPACITY);
    assert!(
        list.insert(numbered(3)).is_ok(),
        "a listed one is not added twice"
    );
    assert!(list.remove(&numbered(3)));
    assert!(!list.remove(&numbered(3)));
    let newest: Vec<_> = list.newest_first().take(2).copied().collect();
    assert_eq!(newest, [numbered(15), numbered(14)]);
    let oldest: Vec<_> = list.oldest_first().take(4).copied().collect();
    assert_eq!(oldest, [numbered(0), numbered(1), numbered(2), numbered(4)]);
    list.clear();
    assert!(list.is_empty());
}

#[test]
fn identities_are_bounded() {
    assert!(SubDevice::new(b"", b"d").is_err());
    assert!(SubDevice::new(b"P", b"").is_err());
    assert!(SubDevice::new(&[b'P'; 11], b"d").is_err());
    assert!(SubDevice::new(b"P", &[b'd'; 49]).is_err());
    let widest = SubDevice::new(&[b'P'; 10], &[b'd'; 48]).unwrap();
    assert_eq!(widest.product_id(), &[b'P'; 10]);
    assert_eq!(widest.device_name(), &[b'd'; 48]);
}

#[test]
fn state_fits_the_ram_budget() {
    assert_eq!(core::mem::size_of::<SubDevice>(), 60);
    assert_eq!(core::mem::size_of::<OnlineList>(), 16 * 60 + 1);
    let size = core::mem::size_of::<Gateway>();
    std::println!("size_of::<Gateway>() = {size}");
    assert!(size <= 1_200, "Gateway is {size} bytes");
}

#[test]
fn result_lines_are_exact() {
    let mut line = [0u8; MAXIMUM_RESULT_LINE];
    let cases: [(Operation, Outcome, &[u8]); 6] = [
        (Operation::Bind, Outcome::Ok, b"+TCGWBIND:OK\r\n"),
        (
            Operation::Unbind,
            Outcome::Fail(808),
            b"+TCGWBIND:FAIL,808\r\n",
        ),
        (
            Operation::Bind,
            Outcome::Fail(-1001),
            b"+TCGWBIND:FAIL,-1001\r\n",
        ),
        (Operation::Online, Outcome::Ok, b"+TCGWONLINE:OK\r\n"),
        (
            Operation::Offline,
            Outcome::Fail(-222),
            b"+TCGWONLINE:FAIL,-222\r\n",
        ),
        (
            Operation::Online,
            Outcome::Fail(i32::MIN),
            b"+TCGWONLINE:FAIL,-2147483648\r\n",
        ),
    ];
    for (operation, outcome, expected) in cases {
        let length = write_result(operation, outcome, &mut line).unwrap();
        assert_eq!(&line[..length], expected);
    }
    assert!(write_result(Operation::Bind, Outcome::Ok, &mut line[..13]).is_err());
}

#[test]
fn query_line_puts_both_names_in_one_pair_of_quotes() {
    let mut line = [0u8; MAXIMUM_ONLINE_ENTRY];
    let subdevice = SubDevice::new(b"S3EUVBRJLB", b"test_device").unwrap();
    let length = write_online_entry(&subdevice, &mut line).unwrap();
    assert_eq!(
        &line[..length],
        b"+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n"
    );
    let widest = SubDevice::new(&[b'P'; 10], &[b'd'; 48]).unwrap();
    assert_eq!(
        write_online_entry(&widest, &mut line).unwrap(),
        MAXIMUM_ONLINE_ENTRY
    );
    assert_eq!(
        ONLINE_TEST_RESPONSE,
        b"+TCGWONLINE:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\"\r\n"
    );
    assert_eq!(
        BIND_TEST_RESPONSE,
        b"+TCGWBIND:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET\"\r\n"
    );
}
