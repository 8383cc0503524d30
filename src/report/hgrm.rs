//! HdrHistogram percentile-distribution text (`.hgrm`), as `outputPercentileDistribution`
//! writes it and HistogramLogAnalyzer and the online HdrHistogram plotter read it.
//!
//! The rows walk the histogram by percentile ticks, [`TICKS_PER_HALF_DISTANCE`] per half-distance
//! to 100% (HdrHistogram's default), each row holding the highest value equivalent to the
//! recorded values at that percentile, the percentile, the cumulative count and 1/(1-percentile).
//! The last row (100%) has no fourth column. The footer gives mean, standard deviation, max,
//! total count and the histogram's bucket layout, then a line naming the unit ([`UNIT_LINE`]).
//!
//! Values are recorded in microseconds and written in **milliseconds** (scaled by 1000, as wrk2
//! does), with three decimals (the histograms keep three significant figures), so the text shows
//! microsecond resolution.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Percentile ticks per half-distance to 100% (HdrHistogram's default).
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Recorded microseconds per written unit: values are written in milliseconds.
pub const VALUE_SCALE: f64 = 1000.0;

/// One row of the distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Highest value equivalent to those at this percentile, in recorded units (microseconds).
    pub value: u64,
    /// Quantile iterated to, 0.0 to 1.0.
    pub quantile: f64,
    /// Values recorded at or below `value`.
    pub total_count: u64,
}

/// The percentile ticks of `h` ([`TICKS_PER_HALF_DISTANCE`] per half-distance), empty when `h` is.
pub fn rows(h: &Histogram<u64>) -> Vec<Row> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut total = 0u64;
    h.iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|v| {
            // Counts of a crafted (or merged) histogram can sum past u64: saturate, as its total does.
            total = total.saturating_add(v.count_since_last_iteration());
            Row {
                value: v.value_iterated_to(),
                quantile: v.quantile_iterated_to(),
                total_count: total,
            }
        })
        .collect()
}

/// HdrHistogram's sub-bucket count for `sigfig` significant figures (a power of two).
fn sub_bucket_count(sigfig: u8) -> u64 {
    let largest_single_unit = 2.0 * 10f64.powi(i32::from(sigfig));
    let magnitude = largest_single_unit.log2().ceil() as u32;
    1u64 << magnitude
}

/// The `.hgrm` text of `h` (values in milliseconds, see the module docs).
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for r in rows(h) {
        let value = r.value as f64 / VALUE_SCALE;
        if r.quantile < 1.0 {
            let _ = writeln!(
                out,
                "{value:12.3} {:2.12} {:10} {:14.2}",
                r.quantile,
                r.total_count,
                1.0 / (1.0 - r.quantile)
            );
        } else {
            let _ = writeln!(out, "{value:12.3} {:2.12} {:10}", r.quantile, r.total_count);
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean(), h.stdev(), h.max() as f64)
    };
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        mean / VALUE_SCALE,
        stdev / VALUE_SCALE
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        max / VALUE_SCALE,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    // HdrHistogram's text has no unit of its own: say it, last (readers skip `#` lines).
    let _ = writeln!(out, "{UNIT_LINE}");
    out
}

/// The last line of every `.hgrm`: the unit of its values.
pub const UNIT_LINE: &str = "#[Values in milliseconds (sipbench records microseconds: latency_us / 1000)]";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn format_matches_hdrhistogram() {
        let mut h = new_histogram();
        for v in [100u64, 200, 250, 600] {
            h.record(v).unwrap();
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        // (Java prints the mean 0.2875 as 0.288: it rounds the decimal string half-up.)
        assert_eq!(lines[0], "       Value     Percentile TotalCount 1/(1-Percentile)");
        assert_eq!(lines[1], "");
        // The same rows as HdrHistogram's own example for these four values (scaled to ms).
        assert_eq!(lines[2], "       0.100 0.000000000000          1           1.00");
        assert_eq!(lines[5], "       0.200 0.300000000000          2           1.43");
        assert_eq!(lines[13], "       0.600 1.000000000000          4");
        assert_eq!(lines[14], "#[Mean    =        0.287, StdDeviation   =        0.188]");
        assert_eq!(lines[15], "#[Max     =        0.600, Total count    =            4]");
        assert_eq!(lines[16], "#[Buckets =           22, SubBuckets     =         2048]");
        assert_eq!(lines[17], UNIT_LINE);
        assert_eq!(lines.len(), 18);
    }

    #[test]
    fn empty_histogram_has_header_and_footer_only() {
        let text = percentile_distribution(&new_histogram());
        assert_eq!(text.lines().count(), 6);
        assert!(text.contains("Total count    =            0"));
    }

    #[test]
    fn sub_buckets() {
        assert_eq!(sub_bucket_count(3), 2048);
        assert_eq!(sub_bucket_count(2), 256);
        assert_eq!(sub_bucket_count(1), 32);
    }
}
