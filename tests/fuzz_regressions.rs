//! Inputs the fuzz targets (fuzz/) found crashing sipbench, kept as tests.

use hdrhistogram::Histogram;
use sipbench::report::hgrm;
use sipbench::stats::{decode_histogram, encode_histogram};

/// `results_read`: a results file's histogram whose counts sum past `u64::MAX` (its total count
/// saturates) made `hgrm::rows` overflow its running total, a panic in `sipbench report`.
#[test]
fn hgrm_rows_of_counts_that_sum_past_u64() {
    let mut h = Histogram::<u64>::new(3).unwrap();
    // Each count fits; their sum does not (the histogram's total saturates at u64::MAX).
    h.record_n(1, u64::MAX / 2 + 1).unwrap();
    h.record_n(1000, u64::MAX / 2 + 1).unwrap();
    let rows = hgrm::rows(&h);
    assert_eq!(rows.last().map(|r| r.total_count), Some(u64::MAX));
    assert!(!hgrm::percentile_distribution(&h).is_empty());
}

/// `results_read`: such a histogram in a results file (the serialized bytes the fuzzer found;
/// `encode_histogram` cannot write one). Reading it must fail, not panic later: hdrhistogram's
/// `value_at_quantile`, which `diff` uses, overflows on it.
#[test]
fn decode_histogram_refuses_counts_that_sum_past_u64() {
    use base64::Engine as _;
    let found = include_bytes!("../fuzz/corpus/results_read/regression-hgrm-rows-overflow.bin");
    let err = decode_histogram(&base64::engine::general_purpose::STANDARD.encode(found)).unwrap_err();
    assert!(err.contains("counts sum past"), "{err}");
    let mut h = Histogram::<u64>::new(3).unwrap();
    h.record_n(1000, 7).unwrap();
    assert_eq!(decode_histogram(&encode_histogram(&h)).unwrap().len(), 7);
}
