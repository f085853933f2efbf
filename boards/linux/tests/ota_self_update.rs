//! Module self-update end to end (`cloud.md` §4.7, `urc.md` §4, `hub.md` §4.4): a
//! `kind: "module"` task on `tc-at-hub`, pushed as `update_resource` on the resource channel
//! in answer to the module's resource report, downloaded into the image area, verified, then
//! `UPDATESUCCESS`, `UPDATERESET` and the simulated in-process reboot 2 s later. The Linux
//! board cannot run the image it stored, so it boots the same program again and keeps its
//! version (`docs/decisions.md`); the stored image and its record are checked in the flash
//! file.

mod common;

use std::time::{Duration, Instant};

use common::hub::{Hub, DEMO_DEVICE, DEMO_PRODUCT};
use common::ota::{
    enable_and_enter, hex, md5_of, start_connected, upload, wait_for_event, DOWNLOAD_DEADLINE,
    FIRMWARE_RANGE, SETTINGS_RANGE,
};
use common::{Options, Scratch, READY};

/// The resource name of the Linux board (`QCLOUD_AT_RS_<BOARD>.bin`).
const RESOURCE: &str = "QCLOUD_AT_RS_LINUX.bin";

fn create_module_task(hub: &Hub, id: u64, version: &str) {
    let (status, body) = hub.admin(
        "POST",
        &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/ota"),
        &format!("{{\"file_id\":{id},\"version\":\"{version}\",\"kind\":\"module\"}}"),
    );
    assert_eq!(status, 200, "task creation answered {body}");
    assert!(body.contains("\"kind\":\"module\""), "{body}");
}

fn module_image() -> Vec<u8> {
    (0..60_000u32)
        .map(|index| (index.wrapping_mul(40_503) >> 7) as u8)
        .collect()
}

#[test]
fn a_module_image_is_stored_verified_and_the_module_reboots_into_the_same_version() {
    let scratch = Scratch::new("ota-self-update");
    let hub = Hub::start();
    let mut module = start_connected(&scratch, &hub, Options::default());
    module.deadline = DOWNLOAD_DEADLINE;
    module.send(b"AT+GMR\r\n");
    let version_before = module.read_response();
    let image = module_image();
    let (id, md5) = upload(&hub, &image);
    create_module_task(&hub, id, "3.1.0");

    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n+TCOTASTATUS:UPDATERESET\r\n");
    let reset = Instant::now();
    module.expect(READY);
    // 2 s after UPDATERESET was queued; the bound leaves a loaded machine 1 s of lag in
    // reading that line, and still fails a reboot without the wait.
    let delay = reset.elapsed();
    assert!(
        delay >= Duration::from_millis(1_000),
        "the reboot came {delay:?} after UPDATERESET, not about 2 s"
    );

    // The hub saw the resource list, pushed on the resource channel, and got the results.
    let log = wait_for_event(&hub, &["\"state\":\"done\"", RESOURCE, "3.1.0"]);
    assert!(
        log.contains("\"topic\":\"$thing/down/service/DEMO000001/demo\""),
        "no update_resource delivery: {log}"
    );
    let (_, task) = hub.admin(
        "GET",
        &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/ota"),
        "",
    );
    assert!(task.contains("\"completed\":true"), "{task}");

    // The rebooted module runs the same program: same version, no MCU image to read.
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(b"AT+GMR\r\n");
    assert_eq!(module.read_response(), version_before);
    module.send(b"AT+TCFWINFO?\r\n");
    module.expect(b"+CME ERROR:208\r\n");
    module.kill();

    // The image and its record, as the storage crate reads them from the flash file.
    let (record, stored) = stored_image(&scratch, image.len());
    assert_eq!(record.state, storage::FirmwareState::ModuleValid);
    assert_eq!(&record.name[..], RESOURCE.as_bytes());
    assert_eq!(&record.version[..], b"3.1.0");
    assert_eq!(record.md5, md5_of(&image));
    assert_eq!(hex(&record.md5), md5);
    assert!(stored == image, "the stored module image differs");
}

#[test]
fn a_module_image_failing_its_md5_is_reported_on_the_resource_channel_and_no_reboot_follows() {
    let scratch = Scratch::new("ota-self-update-md5");
    let hub = Hub::start();
    let mut module = start_connected(&scratch, &hub, Options::default());
    module.deadline = DOWNLOAD_DEADLINE;
    let image = module_image();
    let (id, _) = upload(&hub, &image);
    let (status, body) = hub.admin("PUT", &format!("/files/{id}/faults"), "{\"flip_offset\":5}");
    assert_eq!(status, 200, "{body}");
    create_module_task(&hub, id, "3.1.0");

    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATEFAIL,205\r\n");
    let log = wait_for_event(
        &hub,
        &["\"state\":\"fail\"", RESOURCE, "\"result_code\":\"-4\""],
    );
    assert!(log.contains("\"result_msg\":\"MD5_not_match\""), "{log}");
    // Still the same run of the module: no reboot, echo still off, OTA off again.
    module.send(b"AT+TCOTASET?\r\n");
    module.expect(b"+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n");
    module.expect_quiet(false);
}

/// The firmware record and the first `size` bytes of the image area of the flash file.
fn stored_image(scratch: &Scratch, size: usize) -> (storage::FirmwareInfo, Vec<u8>) {
    let bytes = std::fs::read(scratch.flash()).expect("read the flash file");
    let mut settings =
        storage::Settings::new(storage::mock::MockFlash::from_bytes(&bytes), SETTINGS_RANGE)
            .with_firmware_area(FIRMWARE_RANGE);
    let mut stored = vec![0u8; size];
    let record = embassy_futures::block_on(async {
        settings
            .read_firmware(0, &mut stored)
            .await
            .expect("read the image");
        settings.firmware().await.expect("read the record")
    });
    (record.expect("a firmware record"), stored)
}
