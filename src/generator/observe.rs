//! What a run shows and logs while it goes on: a live view (a progress line), and HdrHistogram
//! interval logs (`--hlog`, the v1.2 format of HdrHistogram's `HistogramLogProcessor` and
//! HistogramLogAnalyzer).
//!
//! The log follows HdrHistogram's conventions so that the Java tools read it with their default
//! flags: values are in **nanoseconds** (the tools divide by 1,000,000 and print milliseconds),
//! and every second has one *untagged* histogram, the phase's headline latency (what its
//! timeline's `metric` is: `session` for sessions and storms, the commonest `sip.METHOD` for
//! kept, messages and hold, the full handshake for records), which is all the tools read
//! without `-tag`. Next to it every metric of the phase has a histogram tagged `phase/metric`
//! (`-tag phase/metric` reads one; `-listtags` lists them). A comment line names each phase's
//! headline metric as it starts.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Interval;
use crate::plan::{Load, Workload};

/// Nanoseconds a microsecond: the histograms record microseconds, the log nanoseconds.
const NS_PER_US: u64 = 1_000;
/// What the `Interval_Max` column is divided by (nanoseconds to milliseconds, as the Java
/// writer does by default).
const MAX_VALUE_DIVISOR: f64 = 1_000_000.0;

/// A microsecond histogram as nanoseconds (each recorded value times 1,000, at the same three
/// significant figures): a value read back is the original within the histogram's precision.
pub fn to_nanoseconds(h: &Histogram<u64>) -> Histogram<u64> {
    let mut ns = Histogram::new_with_bounds(1, crate::stats::MAX_TRACKABLE_US * NS_PER_US, crate::stats::SIGFIG)
        .expect("static histogram bounds are valid");
    for v in h.iter_recorded() {
        ns.saturating_record_n(v.value_iterated_to() * NS_PER_US, v.count_since_last_iteration());
    }
    ns
}

/// Writes interval histograms to an `.hlog` file as the run goes.
pub struct HlogWriter {
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    start: Instant,
    path: std::path::PathBuf,
    /// The phase being logged and its headline metric, once chosen (it stays for the phase).
    headline: Option<(String, Option<String>)>,
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
            "#[Written by sipbench {}; values in nanoseconds, Interval_Max in milliseconds; untagged: each phase's headline latency; Tag=phase/metric: every metric]",
            env!("CARGO_PKG_VERSION")
        )?;
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .with_start_time(SystemTime::now())
            .with_max_value_divisor(MAX_VALUE_DIVISOR)
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
            headline: None,
        })
    }

    /// The phase's headline metric in this interval: the one chosen earlier in the phase, else
    /// the workload's (`None` while it has recorded nothing yet).
    fn headline(&mut self, i: &Interval<'_>, metrics: &[(String, &Histogram<u64>)]) -> Option<String> {
        if let Some((phase, Some(metric))) = &self.headline
            && *phase == i.plan.name
        {
            return Some(metric.clone());
        }
        let recorded = |m: &str| metrics.iter().any(|(name, _)| name == m);
        let chosen = match i.plan.workload {
            Workload::Sessions | Workload::Storm => Some("session".to_owned()),
            Workload::Kept | Workload::Messages | Workload::Hold => i
                .stats
                .sip
                .iter()
                .filter(|(_, t)| !t.latency.is_empty())
                .max_by_key(|(_, t)| t.latency.len())
                .map(|(m, _)| format!("sip.{m}")),
            Workload::Records => ["handshake.full", "handshake.resumed", "connect"]
                .into_iter()
                .find(|m| recorded(m))
                .map(str::to_owned),
        }
        .filter(|m| recorded(m));
        self.headline = Some((i.plan.name.clone(), chosen.clone()));
        chosen
    }

    /// Appends, for a closed interval, the untagged headline histogram and one histogram per
    /// metric tagged `phase/metric`.
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
        let metrics = i.stats.metrics(open);
        let announced = self
            .headline
            .as_ref()
            .is_some_and(|(p, m)| *p == i.plan.name && m.is_some());
        let headline = self.headline(i, &metrics);
        if let Some(m) = headline.as_deref()
            && !announced
        {
            writeln!(
                self.file,
                "#[Phase {phase}: the untagged histograms are its {m} latency]"
            )
            .with_context(|| format!("--hlog {}", self.path.display()))?;
        }
        // One untagged histogram every second (empty while the phase has recorded nothing), so
        // that the default reading is a complete timeline.
        let untagged = metrics
            .iter()
            .find(|(m, _)| Some(m.as_str()) == headline.as_deref())
            .map_or_else(crate::stats::new_histogram, |(_, h)| (*h).clone());
        self.line(None, &untagged, start, i.length)?;
        for (metric, h) in &metrics {
            self.line(Some(&format!("{phase}/{metric}")), h, start, i.length)?;
        }
        self.file
            .flush()
            .with_context(|| format!("--hlog {}", self.path.display()))?;
        Ok(())
    }

    /// One interval line: `[Tag=TAG,]start,length,max,histogram` (times in seconds since the
    /// log's start, the max in milliseconds, the histogram in nanoseconds, V2 deflate, base64).
    fn line(&mut self, tag: Option<&str>, h: &Histogram<u64>, start: Duration, length: Duration) -> Result<()> {
        let ns = to_nanoseconds(h);
        let mut bytes = Vec::new();
        self.serializer
            .serialize(&ns, &mut bytes)
            .map_err(|e| anyhow::anyhow!("--hlog {}: {e:?}", self.path.display()))?;
        if let Some(tag) = tag {
            write!(self.file, "Tag={tag},")?;
        }
        writeln!(
            self.file,
            "{:.3},{:.3},{:.3},{}",
            start.as_secs_f64(),
            length.as_secs_f64(),
            ns.max() as f64 / MAX_VALUE_DIVISOR,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes)
        )
        .with_context(|| format!("--hlog {}", self.path.display()))
    }
}

/// The live view on standard error. On a terminal, an indicatif bar per phase: the phase name,
/// time measured, a bar with ETA (to the end of the window, or of the session budget), and the
/// last second's rates, p99 and failures, cut to the terminal's width and redrawn four times a
/// second; during the warm-up a spinner says so. Off a terminal (a log, CI), one plain line per
/// closed second.
pub struct Progress {
    /// Where a terminal view draws (`None`: not a terminal, plain lines).
    target: Option<DrawTarget>,
    bar: Option<ProgressBar>,
    elapsed: Duration,
    /// Sessions, transactions and failures in the phase's closed intervals so far.
    sessions: u64,
    transactions: u64,
    failures: u64,
}

/// Makes the draw target of each phase's bar.
pub type DrawTarget = std::sync::Arc<dyn Fn() -> ProgressDrawTarget + Send + Sync>;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("terminal", &self.target.is_some())
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl Default for Progress {
    fn default() -> Self {
        let tty = std::io::stderr().is_terminal();
        Progress::new(tty.then(|| std::sync::Arc::new(ProgressDrawTarget::stderr) as DrawTarget))
    }
}

impl Progress {
    /// A view drawing through `target` (a terminal), or plain lines without one.
    pub fn new(target: Option<DrawTarget>) -> Progress {
        Progress {
            target,
            bar: None,
            elapsed: Duration::ZERO,
            sessions: 0,
            transactions: 0,
            failures: 0,
        }
    }

    /// A phase starts: on a terminal, a spinner through its warm-up.
    pub fn start(&mut self, plan: &crate::plan::PhasePlan) {
        let Some(target) = &self.target else { return };
        let bar = ProgressBar::with_draw_target(None, target());
        bar.set_style(
            ProgressStyle::with_template("{prefix} {spinner} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("[{}]", plan.name));
        bar.set_message(if plan.warmup.is_zero() {
            "starting".to_owned()
        } else {
            format!("warming up for {}", humantime::format_duration(plan.warmup))
        });
        bar.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(bar);
    }

    /// Shows one interval: on a terminal four times a second (the second so far), otherwise
    /// once per closed second.
    pub fn show(&mut self, i: &Interval<'_>) {
        let tty = self.target.is_some();
        // Off a terminal only closed seconds; never the last few milliseconds of drain.
        if (!i.complete && !tty) || i.length < Duration::from_millis(100) {
            return;
        }
        let point = i.point();
        let secs = i.length.as_secs_f64().max(1e-3);
        self.elapsed = i.start + i.length;
        let (sessions, transactions, failures) = (
            self.sessions + point.sessions_ok,
            self.transactions + point.transactions_ok,
            self.failures + point.failures,
        );
        if i.complete {
            (self.sessions, self.transactions, self.failures) = (sessions, transactions, failures);
        }
        // What the workload is about: sessions that open and close count as they end; kept
        // and held ones are opened before the clock and end with the phase, so their
        // transactions (or bytes) are what moves.
        use crate::plan::Workload;
        let mut line = match i.plan.workload {
            Workload::Sessions | Workload::Storm => format!(
                "{sessions} sessions · {:.0} sessions/s · {:.0} transactions/s",
                point.sessions_ok as f64 / secs,
                point.transactions_ok as f64 / secs
            ),
            Workload::Records => format!("{sessions} sessions done"),
            _ => format!(
                "{transactions} transactions · {:.0} transactions/s",
                point.transactions_ok as f64 / secs
            ),
        };
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
        if tty {
            self.draw(i.plan, sessions, line);
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{}] {:>5.1} s · {line}", i.plan.name, self.elapsed.as_secs_f64());
        let _ = err.flush();
    }

    /// The terminal view: a bar to the end of the window (or of the session budget) with ETA.
    fn draw(&mut self, plan: &crate::plan::PhasePlan, sessions: u64, line: String) {
        if self.bar.is_none() {
            self.start(plan);
        }
        let Some(bar) = &self.bar else { return };
        let (len, pos, unit) = match (plan.duration, plan.sessions) {
            (Some(d), _) => (d.as_millis() as u64, self.elapsed.as_millis() as u64, "time"),
            (None, Some(n)) => (n, sessions, "sessions"),
            (None, None) => (0, 0, "time"),
        };
        if bar.length() != Some(len) {
            bar.disable_steady_tick();
            bar.set_length(len);
            let template = if unit == "time" {
                "{prefix} [{bar:12}] ETA {eta} · {wide_msg}"
            } else {
                "{prefix} [{bar:12}] {pos}/{len} ETA {eta} · {wide_msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
        }
        bar.set_prefix(format!("[{}] {:.1} s", plan.name, self.elapsed.as_secs_f64()));
        bar.set_position(pos.min(len));
        bar.set_message(line);
    }

    /// Ends the phase's view: on a terminal its last line stays.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        self.elapsed = Duration::ZERO;
        (self.sessions, self.transactions, self.failures) = (0, 0, 0);
    }
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    /// On an 80-column terminal the view fits its width (no line wraps and leaves a stale copy),
    /// shows the phase, an ETA and the rates; a warm-up shows as such first.
    #[test]
    fn the_terminal_view_fits_a_narrow_terminal_and_shows_an_eta() {
        let term = indicatif::InMemoryTerm::new(8, 80);
        let t = term.clone();
        let mut p = Progress::new(Some(std::sync::Arc::new(move || {
            ProgressDrawTarget::term_like(Box::new(t.clone()))
        })));
        let text = "[[phase]]\nname = \"a-long-phase-name\"\nduration = \"10s\"\nwarmup = \"2s\"\n";
        let plan = crate::plan::lower(&crate::plan::Profile::parse(text).unwrap(), &Default::default(), &[])
            .unwrap()
            .remove(0);
        p.start(&plan);
        std::thread::sleep(Duration::from_millis(300));
        assert!(term.contents().contains("warming up for 2s"), "{}", term.contents());
        let stats = crate::stats::PhaseStats::new();
        for s in 0..3u64 {
            p.show(&Interval {
                plan: &plan,
                start: Duration::from_secs(s),
                length: Duration::from_secs(1),
                stats: &stats,
                complete: true,
            });
        }
        let shown = term.contents();
        assert!(
            shown.contains("[a-long-phase-name] 3.0 s") && shown.contains("ETA"),
            "{shown}"
        );
        assert!(shown.contains("0 sessions ·"), "{shown}");
        for line in shown.lines() {
            assert!(line.chars().count() <= 80, "{line:?} is wider than the terminal");
        }
        // One live line: nothing stale above it.
        assert_eq!(shown.lines().filter(|l| l.contains("ETA")).count(), 1, "{shown}");
        p.finish();
    }
}
