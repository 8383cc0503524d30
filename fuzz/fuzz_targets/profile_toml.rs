//! Profile files: `Profile::parse` on arbitrary text, then `plan::lower` with no flags, and with
//! a phase filter naming the first phase and a name no phase has.
//!
//! Errors are expected (most inputs are not profiles); panics are not. A phase that lowers is
//! written into results files as JSON, so it must serialize and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbench::plan::{PhasePlan, PhaseSpec, Profile, lower};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(profile) = Profile::parse(text) else { return };
    let flags = PhaseSpec::default();
    if let Ok(plans) = lower(&profile, &flags, &[]) {
        for plan in &plans {
            let json = serde_json::to_string(plan).expect("a phase plan serializes");
            if let Err(e) = serde_json::from_str::<PhasePlan>(&json) {
                panic!("a lowered phase does not read back from its JSON ({e}): {json}");
            }
        }
    }
    if let Some(name) = profile.phases.first().and_then(|p| p.name.clone()) {
        let _ = lower(&profile, &flags, &[name]);
    }
    let _ = lower(&profile, &flags, &["no-such-phase".to_owned()]);
});
