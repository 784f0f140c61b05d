//! The monitoring heart rates of the bundled real wellness files, decoded by our reader, are
//! exactly those Garmin's own FIT SDK gives (tests/data/wellness/SDK_HR.tsv).

use std::collections::BTreeMap;
use std::path::Path;

use recoverd::ingest::{Parsed, read_bytes};

/// The SDK's samples: `None` for a line that is not `seconds<TAB>bpm`.
fn sdk_samples(text: &str) -> Option<BTreeMap<i64, u16>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (t, hr) = l.split_once('\t')?;
            Some((t.parse().ok()?, hr.parse().ok()?))
        })
        .collect()
}

#[test]
fn monitoring_heart_rates_match_the_garmin_sdk_sample_for_sample() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wellness");
    let mut ours = BTreeMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "fit") {
            continue;
        }
        files += 1;
        let Parsed::Wellness(w) = read_bytes(&std::fs::read(&path).unwrap()).unwrap() else {
            panic!("{} is not read as a wellness file", path.display());
        };
        for s in &w.hr {
            let before = ours.insert(s.ts, s.value);
            assert!(
                before.is_none_or(|b| b == s.value),
                "{}: two heart rates at {}",
                path.display(),
                s.ts
            );
        }
    }
    let sdk = sdk_samples(&std::fs::read_to_string(dir.join("SDK_HR.tsv")).unwrap()).unwrap();
    assert!(
        files >= 50 && sdk.len() > 4_000,
        "{files} files, {} samples",
        sdk.len()
    );
    let missing: Vec<_> = sdk
        .iter()
        .filter(|(t, _)| !ours.contains_key(*t))
        .take(5)
        .collect();
    let extra: Vec<_> = ours
        .iter()
        .filter(|(t, _)| !sdk.contains_key(*t))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(ours, sdk);
}
