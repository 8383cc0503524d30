//! What a run shows and logs while it goes on: a progress line a second, and HdrHistogram
//! interval logs (`--hlog`, the v1.2 format HistogramLogAnalyzer reads, one tagged histogram
//! per metric and phase a second).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::Interval;
use crate::plan::Load;

/// Writes interval histograms to an `.hlog` file as the run goes.
pub struct HlogWriter {
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    start: Instant,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for HlogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HlogWriter {
    /// Creates the file and writes the log header (format version, start time, legend).
    pub fn create(path: &Path) -> Result<HlogWriter> {
        let file = File::create(path).with_context(|| format!("--hlog {}: cannot create", path.display()))?;
        let mut file = BufWriter::new(file);
        writeln!(file, "#[Histogram log format version 1.2]")?;
        writeln!(
            file,
            "#[Written by sipbench {}; values in microseconds; tags are phase/metric]",
            env!("CARGO_PKG_VERSION")
        )?;
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .with_start_time(SystemTime::now())
            .begin_log_with(&mut file, &mut serializer)
            .with_context(|| format!("--hlog {}", path.display()))?;
        writeln!(
            file,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(HlogWriter {
            file,
            serializer,
            start: Instant::now(),
            path: path.to_owned(),
        })
    }

    /// Appends one histogram per metric of the interval, tagged `phase/metric` (closed
    /// intervals only).
    pub fn write(&mut self, i: &Interval<'_>) -> Result<()> {
        if !i.complete {
            return Ok(());
        }
        let open = matches!(i.plan.load, Load::Open { .. });
        let end = self.start.elapsed();
        let start = end.saturating_sub(i.length);
        let phase: String = i
            .plan
            .name
            .chars()
            .map(|c| if c == ',' || c.is_whitespace() { '_' } else { c })
            .collect();
        let mut log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .with_context(|| format!("--hlog {}", self.path.display()))?;
        for (metric, h) in i.stats.metrics(open) {
            let tag = format!("{phase}/{metric}");
            log.write_histogram(h, start, i.length, Tag::new(&tag))
                .map_err(|e| anyhow::anyhow!("--hlog {}: {e:?}", self.path.display()))?;
        }
        self.file
            .flush()
            .with_context(|| format!("--hlog {}", self.path.display()))?;
        Ok(())
    }
}

/// A progress line a second on standard error: rewritten in place on a terminal, one line per
/// interval otherwise.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    elapsed: Duration,
    /// Sessions and failures in the phase's closed intervals so far.
    sessions: u64,
    failures: u64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            elapsed: Duration::ZERO,
            sessions: 0,
            failures: 0,
        }
    }
}

impl Progress {
    /// Shows one interval: on a terminal four times a second (the second so far), otherwise
    /// once per closed second.
    pub fn show(&mut self, i: &Interval<'_>) {
        // Off a terminal only closed seconds; never the last few milliseconds of drain.
        if (!i.complete && !self.tty) || i.length < Duration::from_millis(100) {
            return;
        }
        let point = i.point();
        let secs = i.length.as_secs_f64().max(1e-3);
        self.elapsed = i.start + i.length;
        let (sessions, failures) = (self.sessions + point.sessions_ok, self.failures + point.failures);
        if i.complete {
            (self.sessions, self.failures) = (sessions, failures);
        }
        let mut line = format!(
            "[{}] {:>5.1} s · {sessions} sessions · {:.0} sessions/s · {:.0} transactions/s",
            i.plan.name,
            self.elapsed.as_secs_f64(),
            point.sessions_ok as f64 / secs,
            point.transactions_ok as f64 / secs
        );
        if let (Some(offered), Some(_)) = (point.offered_per_s, &i.plan.shape) {
            line.push_str(&format!(" · offered {offered:.0}/s"));
        }
        if i.plan.workload == crate::plan::Workload::Records {
            line.push_str(&format!(" · {:.1} MB/s", point.bytes_out as f64 / secs / 1e6));
        }
        if !point.metric.is_empty() && point.p99_us > 0 {
            line.push_str(&format!(
                " · {} p99 {:.2} ms",
                point.metric,
                point.p99_us as f64 / 1000.0
            ));
        }
        line.push_str(&format!(" · {failures} failures"));
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Ends the phase's line on a terminal.
    pub fn finish(&mut self) {
        if self.tty && !self.elapsed.is_zero() {
            let _ = writeln!(std::io::stderr());
        }
        self.elapsed = Duration::ZERO;
        (self.sessions, self.failures) = (0, 0);
    }
}
