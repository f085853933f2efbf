//! Model-based test: random sequences of stores and erases, some cut short
//! by a power cut, against a plain in-memory model of the records.

use proptest::prelude::*;

use super::power_cut::{apply, expected, large_device, old_or_new, Update};
use super::{device, flash_with_partition, reboot, run};
use crate::mock::Cut;
use crate::{Settings, Snapshot, StorageError};

fn any_update() -> impl Strategy<Value = Update> {
    // Small value pools, so that equal values (no write) come up often.
    prop_oneof![
        4 => (0u8..6).prop_map(|index| Update::Device(if index < 3 { device(index) } else { large_device(index) })),
        2 => (0u8..3).prop_map(Update::Product),
        2 => (0u8..3).prop_map(Update::Station),
        1 => (0u8..4).prop_map(Update::WifiMode),
        1 => (0u8..3).prop_map(Update::Module),
        1 => Just(Update::EraseCloud),
        1 => Just(Update::EraseWifi),
    ]
}

fn any_cut() -> impl Strategy<Value = Option<(usize, Cut)>> {
    proptest::option::weighted(
        0.3,
        (0usize..12, 0u8..100, any::<bool>()).prop_map(
            |(after, progress_percent, erase_garbage)| {
                (
                    after,
                    Cut {
                        progress_percent,
                        erase_garbage,
                    },
                )
            },
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn store_matches_model_across_power_cuts(
        sectors in 2u32..=4,
        steps in proptest::collection::vec((any_update(), any_cut()), 1..80),
    ) {
        let (flash, range) = flash_with_partition(sectors);
        let mut settings = Settings::new(flash, range.clone());
        let mut model = Snapshot::default();
        for (number, (update, cut)) in steps.iter().enumerate() {
            let new = expected(&model, update);
            if let Some((after, cut)) = cut {
                settings.flash().cut_power_after_with(*after, *cut);
            }
            match run(apply(&mut settings, update)) {
                Ok(()) => {
                    // The update needed fewer operations than the armed cut: disarm it.
                    settings.flash().restore_power();
                    model = new;
                }
                Err(StorageError::Flash) => {
                    prop_assert!(cut.is_some(), "step {}: flash error without a cut", number);
                    settings = reboot(settings, range.clone());
                    let loaded = run(settings.load());
                    prop_assert!(loaded.is_ok(), "step {} {:?}: load after cut: {:?}", number, update, loaded);
                    let loaded = loaded.unwrap();
                    if let Err(problem) = old_or_new(&loaded, &model, &new) {
                        prop_assert!(false, "step {} {:?}: {}", number, update, problem);
                    }
                    model = loaded;
                }
                Err(other) => prop_assert!(false, "step {} {:?}: {:?}", number, update, other),
            }
            prop_assert_eq!(run(settings.load()), Ok(model.clone()), "step {}", number);
        }
        prop_assert_eq!(run(reboot(settings, range).load()), Ok(model));
    }
}
