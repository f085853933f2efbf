//! Round trips and rejection rules of the record format.

use proptest::prelude::*;

use super::{device, module, product, station, text};
use crate::codec::{decode, encode, Record, DEVICE_INFO_MAXIMUM_LENGTH, MAXIMUM_VALUE_LENGTH};
use crate::{
    DeviceInfo, FirmwareInfo, FirmwareState, ModuleInfo, ProductInfo, ProvisioningErrors, Text,
    WifiMode, WifiStation, PROVISIONING_ERRORS_MAX,
};

fn any_text<const N: usize>() -> impl Strategy<Value = Text<N>> {
    proptest::collection::vec(any::<u8>(), 0..=N).prop_map(|bytes| text(&bytes))
}

fn any_device() -> impl Strategy<Value = DeviceInfo> {
    (any::<u8>(), any_text(), any_text(), any_text(), any_text()).prop_map(
        |(tls_mode, product_id, device_name, secret, region)| DeviceInfo {
            tls_mode,
            product_id,
            device_name,
            secret,
            region,
        },
    )
}

fn any_product() -> impl Strategy<Value = ProductInfo> {
    (any::<u8>(), any_text(), any_text(), any_text(), any_text()).prop_map(
        |(tls_mode, product_id, product_secret, device_name, region)| ProductInfo {
            tls_mode,
            product_id,
            product_secret,
            device_name,
            region,
        },
    )
}

fn any_module() -> impl Strategy<Value = ModuleInfo> {
    (
        any_text(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<i32>(),
    )
        .prop_map(
            |(name, flash_mb, led_gpio, fw_base, fw_max, reserved)| ModuleInfo {
                name,
                flash_mb,
                led_gpio,
                fw_base,
                fw_max,
                reserved,
            },
        )
}

fn any_station() -> impl Strategy<Value = WifiStation> {
    (any_text(), any_text()).prop_map(|(ssid, password)| WifiStation { ssid, password })
}

fn round_trip<T: Record + PartialEq + Clone + core::fmt::Debug>(value: &T) {
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    let length = encode(Some(value), &mut buffer).expect("every record fits the buffer");
    assert_eq!(decode::<T>(&buffer[..length]), Ok(Some(value.clone())));
}

proptest! {
    #[test]
    fn device_round_trips(value in any_device()) { round_trip(&value); }

    #[test]
    fn product_round_trips(value in any_product()) { round_trip(&value); }

    #[test]
    fn module_round_trips(value in any_module()) { round_trip(&value); }

    #[test]
    fn station_round_trips(value in any_station()) { round_trip(&value); }

    #[test]
    fn wifi_mode_round_trips(mode in any::<u8>()) { round_trip(&WifiMode(mode)); }

    #[test]
    fn provisioning_errors_round_trip(
        records in proptest::collection::vec(any::<(u8, i32)>(), 0..=PROVISIONING_ERRORS_MAX)
    ) {
        let value = ProvisioningErrors {
            records: heapless::Vec::from_slice(&records).unwrap(),
        };
        round_trip(&value);
    }

    /// Any byte string either decodes to a value that re-encodes to the
    /// same bytes, or is rejected: no two encodings share a value.
    #[test]
    fn decoding_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some(value)) = decode::<DeviceInfo>(&bytes) {
            let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
            let length = encode(Some(&value), &mut buffer).unwrap();
            prop_assert_eq!(&buffer[..length], &bytes[..]);
        }
    }
}

#[test]
fn largest_device_record_fits_the_maximum_length() {
    let largest = DeviceInfo {
        tls_mode: 2,
        product_id: text(&[b'p'; 10]),
        device_name: text(&[b'd'; 48]),
        secret: text(&[b's'; 64]),
        region: text(&[b'r'; 24]),
    };
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    assert_eq!(
        encode(Some(&largest), &mut buffer),
        Ok(1 + 1 + 4 + 10 + 48 + 64 + 24)
    );
    assert_eq!(DEVICE_INFO_MAXIMUM_LENGTH, 1 + 1 + 4 + 10 + 48 + 64 + 24);
}

/// Every record kind but the certificate table, at its largest, fits the work buffer of a
/// build without `certificates` (whose buffer is sized for the `DeviceInfo`).
#[test]
fn largest_records_other_than_the_certificate_table_fit_a_device_record() {
    fn length<T: Record>(value: &T) -> usize {
        let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
        encode(Some(value), &mut buffer).expect("fits the work buffer")
    }
    let mut errors = ProvisioningErrors::default();
    for index in 0..PROVISIONING_ERRORS_MAX {
        errors.records.push((index as u8, i32::MIN)).unwrap();
    }
    let lengths = [
        length(&ProductInfo {
            tls_mode: 2,
            product_id: text(&[b'p'; 10]),
            product_secret: text(&[b's'; 32]),
            device_name: text(&[b'd'; 48]),
            region: text(&[b'r'; 24]),
        }),
        length(&ModuleInfo {
            name: text(&[b'n'; 30]),
            flash_mb: 4,
            led_gpio: 16,
            fw_base: u32::MAX,
            fw_max: u32::MAX,
            reserved: i32::MIN,
        }),
        length(&WifiStation {
            ssid: text(&[b's'; 32]),
            password: text(&[b'p'; 63]),
        }),
        length(&WifiMode(3)),
        length(&FirmwareInfo {
            state: FirmwareState::ModuleDownloading,
            name: text(&[b'n'; 64]),
            version: text(&[b'v'; 32]),
            md5: [0xFF; 16],
            size: u32::MAX,
            downloaded: u32::MAX,
            max_size: u32::MAX,
        }),
        length(&errors),
    ];
    for length in lengths {
        assert!(length <= DEVICE_INFO_MAXIMUM_LENGTH, "{length} bytes");
    }
}

#[test]
fn tombstone_decodes_as_absent() {
    let mut buffer = [0u8; 4];
    let length = encode::<WifiStation>(None, &mut buffer).unwrap();
    assert_eq!(&buffer[..length], &[0x00]);
    assert_eq!(decode::<WifiStation>(&buffer[..length]), Ok(None));
}

#[test]
fn version_one_layout_is_stable() {
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    let length = encode(Some(&module(1)), &mut buffer).unwrap();
    let expected = [
        0x01, // version 1
        2, b'M', 1, // name
        4, 1, // flash MB, LED GPIO
        0x00, 0x10, 0x11, 0x00, // fw_base 0x111000, little-endian
        0x00, 0x00, 0x02, 0x00, // fw_max 131072
        0xFF, 0xFF, 0xFF, 0xFF, // reserved -1
    ];
    assert_eq!(&buffer[..length], &expected);
}

#[test]
fn malformed_values_are_rejected() {
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    let length = encode(Some(&station(3)), &mut buffer).unwrap();
    let valid = &buffer[..length];
    // Unknown version tag.
    let mut unknown_tag = valid.to_vec();
    unknown_tag[0] = 0x02;
    assert!(decode::<WifiStation>(&unknown_tag).is_err());
    // Missing and trailing bytes.
    assert!(decode::<WifiStation>(&valid[..length - 1]).is_err());
    let mut trailing = valid.to_vec();
    trailing.push(0);
    assert!(decode::<WifiStation>(&trailing).is_err());
    // A length above the field's capacity (SSID holds at most 32 bytes).
    let mut too_long = std::vec![0x01, 33];
    too_long.extend_from_slice(&[b'x'; 33]);
    too_long.push(0);
    assert!(decode::<WifiStation>(&too_long).is_err());
    // Empty input.
    assert!(decode::<WifiStation>(&[]).is_err());
}

#[test]
fn debug_output_never_shows_secrets() {
    let shown = std::format!("{:?} {:?} {:?}", device(9), product(9), station(9));
    assert!(shown.contains("<5 secret bytes>"), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
    let product_secret = std::format!("{:?}", product(b'Q'));
    assert!(!product_secret.contains("pQ"), "{product_secret}");
}

#[test]
fn provisioning_errors_are_a_count_then_type_and_little_endian_sub_code() {
    let value = ProvisioningErrors {
        records: heapless::Vec::from_slice(&[(3, 102), (1, -104)]).unwrap(),
    };
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    let length = encode(Some(&value), &mut buffer).unwrap();
    assert_eq!(
        &buffer[1..length],
        [2, 3, 102, 0, 0, 0, 1, 0x98, 0xFF, 0xFF, 0xFF]
    );
    // A count beyond 16 cannot come from this firmware.
    let mut bytes = std::vec![buffer[0], 17];
    bytes.extend(core::iter::repeat_n(0, 17 * 5));
    assert!(decode::<ProvisioningErrors>(&bytes).is_err());
}
