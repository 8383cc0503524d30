//! The report's charts, SVG and PNG from the same drawing code:
//!
//! - [`Chart`]: percentile distributions, as HdrHistogram's plotter draws them: percentile on a
//!   1/(1-p) logarithmic x axis (0%, 90%, 99%, 99.9%, ...) ending at the data's last percentile,
//!   latency in milliseconds on a logarithmic y axis by default ([`YAxis`]; a linear axis from 0
//!   flattens p0-p90 under the tail). Series can be dashed: the report draws a phase's latency
//!   corrected for coordinated omission solid and the same latency as measured dashed, in one
//!   chart;
//! - [`Timeline`]: a phase second by second, three panels on one time axis: rate (and the rate
//!   offered, open loop), latency p50/p99, failures;
//! - [`Bars`]: one bar per variant (median over rounds) with min-max whiskers and a dot per
//!   round (`sipbench compare` files);
//! - [`RateLatency`]: latency and throughput against the rate offered (`sipbench capacity`
//!   steps, a phase's step rates or ramp), with the p99 limit and the knee.
//!
//! Text in PNGs is rendered with DejaVu Sans, bundled in the binary (`assets/`), so no system font
//! is looked up; SVGs name the `sans-serif` family and leave rendering to the viewer.

use std::ops::Range;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::combinators::{BindKeyPoints, IntoLogRange};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::hgrm::{Row, VALUE_SCALE};

/// Chart width in pixels (SVG and PNG).
pub const WIDTH: u32 = 960;
/// Percentile chart height in pixels (SVG and PNG).
pub const HEIGHT: u32 = 540;
/// Timeline height: three panels.
pub const TIMELINE_HEIGHT: u32 = 660;
/// Rate-latency chart height: two panels.
pub const RATE_LATENCY_HEIGHT: u32 = 640;
/// Height of one panel of a [`Bars`] chart (plus [`BARS_TITLE`] once).
pub const BARS_PANEL_HEIGHT: u32 = 290;
/// Height of a [`Bars`] chart's title area.
pub const BARS_TITLE: u32 = 50;

/// The font every chart's text uses, bundled so PNG text never depends on the system.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FONT_FAMILY: &str = "sans-serif";

/// Series colours (colour-blind-friendly, Okabe-Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];
/// Grey of reference lines (the generator's lag, the diagonal "as offered").
const GREY: RGBColor = RGBColor(120, 120, 120);
/// Marker colours of capacity verdicts.
const PASS: RGBColor = RGBColor(0, 158, 115);
const FAIL: RGBColor = RGBColor(213, 94, 0);
const LIMITED: RGBColor = RGBColor(230, 159, 0);

/// The latency axis: logarithmic (the default) or linear from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum YAxis {
    /// Logarithmic: p50 and p99.99 both readable.
    #[default]
    Log,
    /// Linear from 0.
    Linear,
}

/// How a series is stroked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stroke {
    /// A solid line.
    #[default]
    Solid,
    /// A dashed line (latency as measured, beside its corrected twin).
    Dashed,
    /// A thin grey dotted line (a reference: the generator's lag).
    Reference,
}

impl Stroke {
    /// A legend's sample of the line: three segments (x from, x to), joined (solid), two dashes
    /// or three dots, and their width.
    fn sample(self) -> ([(i32, i32); 3], u32) {
        match self {
            Stroke::Solid => ([(0, 8), (8, 15), (15, 22)], 3),
            Stroke::Dashed => ([(0, 8), (13, 22), (22, 22)], 3),
            Stroke::Reference => ([(0, 3), (9, 12), (18, 21)], 2),
        }
    }
}

/// One line on a percentile chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (1/(1-p), latency in ms) points, p < 1.
    pub points: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
    /// Line style.
    pub stroke: Stroke,
}

impl Series {
    /// The points of a percentile distribution (the 100% row, at infinity, is left out), in the
    /// first colour, solid.
    pub fn from_rows(label: impl Into<String>, rows: &[Row]) -> Series {
        let points = rows
            .iter()
            .filter(|r| r.quantile < 1.0)
            .map(|r| (1.0 / (1.0 - r.quantile), r.value as f64 / VALUE_SCALE))
            .collect();
        Series {
            label: label.into(),
            points,
            color: 0,
            stroke: Stroke::Solid,
        }
    }

    /// The same series in palette colour `i`.
    pub fn color(mut self, i: usize) -> Series {
        self.color = i;
        self
    }

    /// The same series stroked `stroke`.
    pub fn stroke(mut self, stroke: Stroke) -> Series {
        self.stroke = stroke;
        self
    }
}

/// A percentile chart: a title and its series.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Lines to draw, in legend order.
    pub series: Vec<Series>,
    /// The latency axis.
    pub y_axis: YAxis,
}

fn register() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the bundled font assets/DejaVuSans.ttf did not load"))
    }
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("{e}")
}

/// Labels a 1/(1-p) tick as its percentile: 1 -> 0%, 10 -> 90%, 100 -> 99%, 1000 -> 99.9%, ...;
/// between decades with the decimals that keep it below 100% (570 -> 99.8%).
pub fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let decimals = ((x.log10() - 1e-9).ceil() as i32 - 2).max(0) as usize;
    // Cut, not rounded: the label never claims a percentile the data does not reach.
    let scale = 10f64.powi(decimals as i32);
    let p = (p * scale + 1e-6).floor() / scale;
    format!("{p:.decimals$}%")
}

/// A number as an axis label: three significant figures at most, no trailing zeros.
pub fn axis_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    if v.abs() >= 100.0 {
        return format!("{v:.0}");
    }
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The 1-2-5 ladder: 1, 2, 5, 10, 20, 50, ... times 10^e for e in `exps`.
fn ladder(exps: Range<i32>) -> impl Iterator<Item = f64> {
    exps.flat_map(|e| [1.0, 2.0, 5.0].into_iter().map(move |m| m * 10f64.powi(e)))
}

/// The largest 1-2-5 value at or below `v` (v > 0).
fn ladder_down(v: f64) -> f64 {
    let e = v.log10().floor() as i32;
    ladder(e - 1..e + 2)
        .filter(|x| *x <= v * (1.0 + 1e-9))
        .fold(10f64.powi(e - 1), f64::max)
}

/// The smallest 1-2-5 value at or above `v` (v > 0).
fn ladder_up(v: f64) -> f64 {
    let e = v.log10().floor() as i32;
    ladder(e - 1..e + 2)
        .filter(|x| *x >= v * (1.0 - 1e-9))
        .fold(10f64.powi(e + 1), f64::min)
}

/// A value axis, logarithmic or linear; values are plotted mapped ([`Scale::map`]) on a linear
/// coordinate, so that both draw through the same code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Scale {
    /// The axis for `values` (non-finite ones ignored): log from the 1-2-5 step at or below the
    /// smallest positive value to the one at or above the largest; linear from 0 to a round
    /// number above the largest.
    pub fn new(axis: YAxis, values: impl IntoIterator<Item = f64>) -> Scale {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            if v > 0.0 {
                min = min.min(v);
            }
            max = max.max(v);
        }
        match axis {
            YAxis::Linear => {
                let hi = if max > 0.0 { nice_top(max) } else { 1.0 };
                Scale {
                    log: false,
                    lo: 0.0,
                    hi,
                }
            }
            YAxis::Log => {
                if !min.is_finite() {
                    min = 0.001;
                }
                let lo = ladder_down(min);
                let mut hi = ladder_up(max.max(min) * 1.02);
                if hi <= lo {
                    hi = lo * 10.0;
                }
                Scale { log: true, lo, hi }
            }
        }
    }

    /// Whether the axis is logarithmic.
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// The lowest and highest value shown.
    pub fn bounds(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Where `v` is plotted (values under a log axis's bottom sit on it).
    pub fn map(&self, v: f64) -> f64 {
        if self.log { v.max(self.lo).log10() } else { v }
    }

    fn range(&self) -> Range<f64> {
        self.map(self.lo)..self.map(self.hi)
    }

    /// Labelled ticks, as values: log, the 1-2-5 steps over up to 2.5 decades, else the decades;
    /// linear, multiples of a 1-2-5 step.
    pub fn ticks(&self) -> Vec<f64> {
        let inside = |x: &f64| *x >= self.lo * (1.0 - 1e-9) && *x <= self.hi * (1.0 + 1e-9);
        if self.log {
            let (a, b) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32 + 1);
            let all: Vec<f64> = ladder(a..b).filter(inside).collect();
            if (self.hi / self.lo).log10() <= 2.5 {
                all
            } else {
                let mut decades: Vec<f64> = (a..b).map(|e| 10f64.powi(e)).filter(inside).collect();
                // The top too, when it is far enough from the last decade to have a label.
                if decades.last().is_some_and(|d| (self.hi / d).log10() >= 0.25) {
                    decades.push(self.hi);
                }
                decades
            }
        } else {
            let step = ladder_up(self.hi / 6.0);
            (0..=12).map(|i| i as f64 * step).filter(inside).collect()
        }
    }

    /// Grid lines between the ticks: log, 1..9 times each decade; linear, half steps.
    fn light(&self) -> Vec<f64> {
        let inside = |x: &f64| *x >= self.lo && *x <= self.hi;
        if self.log {
            let (a, b) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32 + 1);
            (a..b)
                .flat_map(|e| (1..10).map(move |m| m as f64 * 10f64.powi(e)))
                .filter(inside)
                .collect()
        } else {
            let step = ladder_up(self.hi / 6.0) / 2.0;
            (0..=24).map(|i| i as f64 * step).filter(inside).collect()
        }
    }

    /// The coordinate for plotters: the mapped range with the ticks and grid lines.
    fn coord(&self) -> Ticked {
        Ticked {
            range: self.range(),
            bold: self.ticks().into_iter().map(|v| self.map(v)).collect(),
            light: self.light().into_iter().map(|v| self.map(v)).collect(),
        }
    }

    /// The label of a mapped coordinate.
    fn label(&self, mapped: f64) -> String {
        axis_number(if self.log { 10f64.powf(mapped) } else { mapped })
    }
}

/// A linear f64 coordinate with given ticks (bold) and grid lines (light).
#[derive(Debug, Clone)]
struct Ticked {
    range: Range<f64>,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ticked {
    /// `range` with ticks at `bold` and no grid lines between them.
    fn new(range: Range<f64>, bold: Vec<f64>) -> Ticked {
        Ticked {
            range,
            bold,
            light: Vec::new(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let f = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.0
        };
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A round number a little above `max` (> 0): the next multiple of a 1-2-5 step.
fn nice_top(max: f64) -> f64 {
    let step = ladder_up(max / 8.0);
    ((max * 1.04) / step).ceil() * step
}

/// The x axis's upper end: the last percentile the data reaches (1/(1-p)), at least 10 (90%).
pub fn x_max(chart: &Chart) -> f64 {
    chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(10.0f64, f64::max)
}

/// The x ticks: each decade up to `xmax`, and `xmax` itself when it is far enough from the last.
pub fn x_ticks(xmax: f64) -> Vec<f64> {
    let top = xmax.log10();
    let mut ticks: Vec<f64> = (0..=(top + 1e-9).floor() as i32).map(|d| 10f64.powi(d)).collect();
    if top - top.floor() > 0.3 {
        ticks.push(xmax);
    }
    ticks
}

/// Draws `points` on `cc` as `stroke`, with legend entry `label`.
fn line<'a, DB, X, Y>(
    cc: &mut ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<X, Y>>,
    points: Vec<(X::ValueType, Y::ValueType)>,
    color: RGBColor,
    stroke: Stroke,
    label: &str,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
    X::ValueType: Clone + 'static,
    Y::ValueType: Clone + 'static,
{
    let anno = match stroke {
        Stroke::Solid => cc
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?,
        Stroke::Dashed => cc
            .draw_series(DashedLineSeries::new(points, 9, 6, color.stroke_width(2)))
            .map_err(err)?,
        Stroke::Reference => cc
            .draw_series(DashedLineSeries::new(points, 3, 5, color.stroke_width(2)))
            .map_err(err)?,
    };
    if !label.is_empty() {
        let (segments, width) = stroke.sample();
        anno.label(label).legend(move |(x, y)| {
            let seg = |(a, b): (i32, i32)| PathElement::new(vec![(a, 0), (b, 0)], color.stroke_width(width));
            EmptyElement::at((x, y)) + seg(segments[0]) + seg(segments[1]) + seg(segments[2])
        });
    }
    Ok(())
}

/// Marks each point when there are few (a line through one point draws nothing).
fn dots<'a, DB, X, Y>(
    cc: &mut ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<X, Y>>,
    points: impl Iterator<Item = (X::ValueType, Y::ValueType)>,
    color: RGBColor,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
    X::ValueType: Clone + 'static,
    Y::ValueType: Clone + 'static,
{
    let points: Vec<_> = points.collect();
    if points.len() <= 40 {
        cc.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
    }
    Ok(())
}

/// Room to the right of a timeline's panels for their legends.
const TIMELINE_LEGEND: u32 = 200;

/// A legend in the room [`TIMELINE_LEGEND`] leaves right of a panel: a line sample and the
/// label per entry, top down.
fn side_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[(String, RGBColor, Stroke)]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let x = area.dim_in_pixel().0 as i32 - TIMELINE_LEGEND as i32 + 14;
    for (i, (label, color, stroke)) in entries.iter().enumerate() {
        let y = 24 + 22 * i as i32;
        let (segments, width) = stroke.sample();
        let seg = |(a, b): (i32, i32)| PathElement::new(vec![(a, 0), (b, 0)], color.stroke_width(width));
        let text = TextStyle::from((FONT_FAMILY, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(
            &(EmptyElement::at((x, y))
                + seg(segments[0])
                + seg(segments[1])
                + seg(segments[2])
                + Text::new(label.clone(), (30, 0), text)),
        )
        .map_err(err)?;
    }
    Ok(())
}

fn legend_box<'a, DB, CT>(cc: &mut ChartContext<'a, DB, CT>, pos: SeriesLabelPosition) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    cc.configure_series_labels()
        .position(pos)
        .label_font((FONT_FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(err)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let xmax = x_max(chart);
    let scale = Scale::new(
        chart.y_axis,
        chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    let mut cc = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 21))
        .margin(14)
        .margin_right(40)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..xmax).log_scale().with_key_points(x_ticks(xmax)), scale.coord())
        .map_err(err)?;
    cc.configure_mesh()
        .x_desc("Percentile")
        .y_desc(if scale.is_log() {
            "Latency (ms, log scale)"
        } else {
            "Latency (ms)"
        })
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| scale.label(*y))
        .label_style((FONT_FAMILY, 15))
        .axis_desc_style((FONT_FAMILY, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    for s in &chart.series {
        let color = match s.stroke {
            Stroke::Reference => GREY,
            _ => PALETTE[s.color % PALETTE.len()],
        };
        let points = s.points.iter().map(|&(x, y)| (x, scale.map(y))).collect();
        line(&mut cc, points, color, s.stroke, &s.label)?;
    }
    // Percentile curves rise to the right: below their tails is the emptiest corner.
    legend_box(&mut cc, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(err)?;
    Ok(())
}

/// One second of a phase on its timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimePoint {
    /// Seconds from the window's start to the interval's end.
    pub t: f64,
    /// Completions per second.
    pub rate: f64,
    /// Arrivals per second the schedule intended (open loop).
    pub offered: Option<f64>,
    /// Failures per second.
    pub failures: f64,
    /// Median latency in the interval, ms (0: no samples).
    pub p50: f64,
    /// 99th percentile in the interval, ms (0: no samples).
    pub p99: f64,
}

/// A phase's timeline: rate, latency and failures, one panel each on a shared time axis.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Title above the plot.
    pub title: String,
    /// Name of the rate drawn (e.g. `sessions/s`).
    pub rate_label: String,
    /// The latency metric drawn (e.g. `session`).
    pub metric: String,
    /// One point per interval, at its middle.
    pub points: Vec<TimePoint>,
    /// Where the time axis ends: the end of the last interval drawn, seconds.
    pub end_s: f64,
    /// The latency axis.
    pub y_axis: YAxis,
}

/// A panel of latency on `scale` against a linear x from 0 to `x_end`, its mesh drawn, with no x
/// labels (the panel below it has them); `margin_right` leaves room for a legend beside it.
fn latency_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x_end: f64,
    scale: &Scale,
    margin_right: u32,
) -> Result<ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<RangedCoordf64, Ticked>>>
where
    DB::ErrorType: 'static,
{
    let mut cc = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(margin_right)
        .margin_top(8)
        .margin_bottom(2)
        .x_label_area_size(0)
        .y_label_area_size(84)
        .build_cartesian_2d(0.0..x_end, scale.coord())
        .map_err(err)?;
    cc.configure_mesh()
        .y_desc(if scale.is_log() {
            "latency (ms, log)"
        } else {
            "latency (ms)"
        })
        .y_label_formatter(&|y| scale.label(*y))
        .x_max_light_lines(1)
        .label_style((FONT_FAMILY, 14))
        .axis_desc_style((FONT_FAMILY, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    Ok(cc)
}

fn draw_timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, t: &Timeline) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&t.title, (FONT_FAMILY, 21)).map_err(err)?;
    let (rate_area, rest) = root.split_vertically(215);
    let (lat_area, fail_area) = rest.split_vertically(235);
    let x_end = t.points.iter().map(|p| p.t).fold(t.end_s, f64::max).max(1e-3);
    let top = |f: fn(&TimePoint) -> f64| t.points.iter().map(f).fold(0.0f64, f64::max);
    let panel = |area, bottom: bool, ymax: f64| {
        ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(TIMELINE_LEGEND)
            .margin_top(8)
            .margin_bottom(if bottom { 6 } else { 2 })
            .x_label_area_size(if bottom { 42 } else { 0 })
            .y_label_area_size(84)
            .build_cartesian_2d(0.0..x_end, 0.0..ymax)
    };
    let mesh_style = |m: &mut plotters::chart::MeshStyle<'_, '_, RangedCoordf64, RangedCoordf64, DB>| {
        m.x_max_light_lines(2)
            .y_max_light_lines(2)
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200));
    };

    // Rate, and the rate offered.
    let offered: Vec<(f64, f64)> = t.points.iter().filter_map(|p| p.offered.map(|o| (p.t, o))).collect();
    let rate_max = nice_top(
        top(|p| p.rate)
            .max(offered.iter().map(|o| o.1).fold(0.0, f64::max))
            .max(1.0),
    );
    let mut cc = panel(&rate_area, false, rate_max).map_err(err)?;
    let mut mesh = cc.configure_mesh();
    mesh_style(&mut mesh);
    mesh.y_desc("per second")
        .y_label_formatter(&|y| axis_number(*y))
        .draw()
        .map_err(err)?;
    line(
        &mut cc,
        t.points.iter().map(|p| (p.t, p.rate)).collect(),
        PALETTE[0],
        Stroke::Solid,
        "",
    )?;
    dots(&mut cc, t.points.iter().map(|p| (p.t, p.rate)), PALETTE[0])?;
    if !offered.is_empty() {
        line(&mut cc, offered.clone(), GREY, Stroke::Dashed, "")?;
    }
    let mut entries = vec![(t.rate_label.clone(), PALETTE[0], Stroke::Solid)];
    if !offered.is_empty() {
        entries.push(("offered (arrivals/s)".to_owned(), GREY, Stroke::Dashed));
    }
    side_legend(&rate_area, &entries)?;

    // Latency, on the report's axis; intervals without samples are left out.
    let with_samples: Vec<&TimePoint> = t.points.iter().filter(|p| p.p99 > 0.0).collect();
    let scale = Scale::new(t.y_axis, with_samples.iter().flat_map(|p| [p.p50, p.p99]));
    let mut cc = latency_panel(&lat_area, x_end, &scale, TIMELINE_LEGEND)?;
    for (i, f) in [(|p: &TimePoint| p.p50) as fn(&TimePoint) -> f64, |p| p.p99]
        .into_iter()
        .enumerate()
    {
        line(
            &mut cc,
            with_samples.iter().map(|p| (p.t, scale.map(f(p)))).collect(),
            PALETTE[2 + i],
            Stroke::Solid,
            "",
        )?;
        dots(
            &mut cc,
            with_samples.iter().map(|p| (p.t, scale.map(f(p)))),
            PALETTE[2 + i],
        )?;
    }
    side_legend(
        &lat_area,
        &[
            (format!("{} p50", t.metric), PALETTE[2], Stroke::Solid),
            (format!("{} p99", t.metric), PALETTE[3], Stroke::Solid),
        ],
    )?;

    // Failures.
    let fail_max = nice_top(top(|p| p.failures).max(1.0));
    let mut cc = panel(&fail_area, true, fail_max).map_err(err)?;
    let mut mesh = cc.configure_mesh();
    mesh_style(&mut mesh);
    mesh.x_desc("seconds into the measured window")
        .y_desc("failures/s")
        .x_label_formatter(&|x| axis_number(*x))
        .y_label_formatter(&|y| axis_number(*y))
        .y_labels(3)
        .draw()
        .map_err(err)?;
    let total: f64 = t.points.iter().map(|p| p.failures).sum();
    line(
        &mut cc,
        t.points.iter().map(|p| (p.t, p.failures)).collect(),
        PALETTE[1],
        Stroke::Solid,
        "",
    )?;
    dots(&mut cc, t.points.iter().map(|p| (p.t, p.failures)), PALETTE[1])?;
    let failures = if total > 0.0 {
        format!("failures/s (peak {})", axis_number(top(|p| p.failures)))
    } else {
        "failures/s (none)".to_owned()
    };
    side_legend(&fail_area, &[(failures, PALETTE[1], Stroke::Solid)])?;
    root.present().map_err(err)?;
    Ok(())
}

/// One bar: a variant's median over rounds, their range and each round's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The variant.
    pub label: String,
    /// Bar height.
    pub median: f64,
    /// Whisker bottom.
    pub min: f64,
    /// Whisker top.
    pub max: f64,
    /// Each round's value (dots).
    pub values: Vec<f64>,
}

/// One panel of bars, sharing a y axis.
#[derive(Debug, Clone, PartialEq)]
pub struct BarPanel {
    /// The y axis's label.
    pub y_desc: String,
    /// One bar per variant, left to right.
    pub bars: Vec<Bar>,
}

/// Bars with whiskers, panels stacked.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// Title above the panels.
    pub title: String,
    /// The panels, top to bottom.
    pub panels: Vec<BarPanel>,
}

impl Bars {
    /// Image height: the title and the panels.
    pub fn height(&self) -> u32 {
        BARS_TITLE + BARS_PANEL_HEIGHT * self.panels.len().max(1) as u32
    }
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, b: &Bars) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&b.title, (FONT_FAMILY, 21)).map_err(err)?;
    let areas = root.split_evenly((b.panels.len().max(1), 1));
    for (panel, area) in b.panels.iter().zip(&areas) {
        let n = panel.bars.len().max(1);
        let top = panel
            .bars
            .iter()
            .flat_map(|bar| bar.values.iter().copied().chain([bar.max, bar.median]))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let ymax = if top > 0.0 { nice_top(top * 1.12) } else { 1.0 };
        let labels: Vec<String> = panel.bars.iter().map(|bar| bar.label.clone()).collect();
        let mut cc = ChartBuilder::on(area)
            .margin_left(10)
            .margin_right(40)
            .margin_top(10)
            .x_label_area_size(34)
            .y_label_area_size(84)
            .build_cartesian_2d(
                Ticked::new(0.0..n as f64, (0..n).map(|i| i as f64 + 0.5).collect()),
                0.0..ymax,
            )
            .map_err(err)?;
        cc.configure_mesh()
            .disable_x_mesh()
            .y_max_light_lines(1)
            .y_desc(panel.y_desc.as_str())
            .x_label_formatter(&|x| labels.get(x.floor().max(0.0) as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| axis_number(*y))
            .label_style((FONT_FAMILY, 15))
            .axis_desc_style((FONT_FAMILY, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        let value_style = TextStyle::from((FONT_FAMILY, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, bar) in panel.bars.iter().enumerate() {
            let x = i as f64 + 0.5;
            let color = PALETTE[i % PALETTE.len()];
            cc.draw_series([Rectangle::new(
                [(x - 0.3, 0.0), (x + 0.3, bar.median)],
                color.mix(0.75).filled(),
            )])
            .map_err(err)?;
            let whisker = BLACK.stroke_width(2);
            cc.draw_series([
                PathElement::new(vec![(x, bar.min), (x, bar.max)], whisker),
                PathElement::new(vec![(x - 0.08, bar.min), (x + 0.08, bar.min)], whisker),
                PathElement::new(vec![(x - 0.08, bar.max), (x + 0.08, bar.max)], whisker),
            ])
            .map_err(err)?;
            let k = bar.values.len();
            cc.draw_series(bar.values.iter().enumerate().map(|(j, v)| {
                let dx = if k > 1 {
                    (j as f64 / (k - 1) as f64 - 0.5) * 0.3
                } else {
                    0.0
                };
                Circle::new((x + 0.15 + dx.abs() * 0.0 + dx, *v), 4, BLACK.mix(0.6).filled())
            }))
            .map_err(err)?;
            cc.draw_series([EmptyElement::at((x, bar.max.max(bar.median)))
                + Text::new(axis_number(bar.median), (0, -6), value_style.clone())])
                .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// How a point of a rate-latency chart went (capacity steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// No verdict: a step rate or a second of a ramp.
    Plain,
    /// Kept the thresholds.
    Pass,
    /// Broke a threshold.
    Fail,
    /// The generator could not send the rate.
    GeneratorLimited,
}

/// One rate offered and what it got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePoint {
    /// Arrivals per second asked.
    pub offered: f64,
    /// Completions per second.
    pub achieved: f64,
    /// Median latency, ms.
    pub p50: Option<f64>,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99th percentile as measured (from the actual send), ms.
    pub p99_measured: Option<f64>,
    /// Its verdict.
    pub mark: Mark,
}

/// Latency and throughput against the rate offered.
#[derive(Debug, Clone)]
pub struct RateLatency {
    /// Title above the plot.
    pub title: String,
    /// The latency metric (`session`, `sip.OPTIONS`).
    pub metric: String,
    /// What the p99 is (`p99`, `worst one-second p99`).
    pub p99_label: String,
    /// The points, in the order run.
    pub points: Vec<RatePoint>,
    /// The p99 limit, ms.
    pub p99_limit: Option<f64>,
    /// The knee, arrivals per second.
    pub knee: Option<f64>,
    /// The latency axis.
    pub y_axis: YAxis,
}

fn draw_rate_latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &RateLatency) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&r.title, (FONT_FAMILY, 21)).map_err(err)?;
    let (upper, lower) = root.split_vertically(330);
    let mut sorted = r.points.clone();
    sorted.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let x_top = sorted
        .iter()
        .flat_map(|p| [p.offered, p.achieved])
        .chain(r.knee)
        .fold(1.0f64, f64::max);
    let x_end = nice_top(x_top);
    let scale = Scale::new(
        r.y_axis,
        sorted
            .iter()
            .flat_map(|p| [Some(p.p99), p.p50, p.p99_measured])
            .flatten()
            .chain(r.p99_limit),
    );
    let mut cc = latency_panel(&upper, x_end, &scale, 40)?;
    let (y0, y1) = (scale.map(scale.bounds().0), scale.map(scale.bounds().1));
    if let Some(limit) = r.p99_limit {
        line(
            &mut cc,
            vec![(0.0, scale.map(limit)), (x_end, scale.map(limit))],
            FAIL,
            Stroke::Reference,
            &format!("p99 limit {} ms", axis_number(limit)),
        )?;
    }
    if let Some(knee) = r.knee {
        line(
            &mut cc,
            vec![(knee, y0), (knee, y1)],
            BLACK,
            Stroke::Dashed,
            &format!("knee {}/s", axis_number(knee)),
        )?;
    }
    let p50: Vec<(f64, f64)> = sorted
        .iter()
        .filter_map(|p| p.p50.map(|v| (p.offered, scale.map(v))))
        .collect();
    if !p50.is_empty() {
        line(&mut cc, p50, PALETTE[2], Stroke::Solid, &format!("{} p50", r.metric))?;
    }
    let measured: Vec<(f64, f64)> = sorted
        .iter()
        .filter_map(|p| p.p99_measured.map(|v| (p.offered, scale.map(v))))
        .collect();
    if !measured.is_empty() {
        line(
            &mut cc,
            measured,
            PALETTE[5],
            Stroke::Dashed,
            &format!("{} p99 as measured", r.metric),
        )?;
    }
    line(
        &mut cc,
        sorted.iter().map(|p| (p.offered, scale.map(p.p99))).collect(),
        PALETTE[0],
        Stroke::Solid,
        &format!("{} {}", r.metric, r.p99_label),
    )?;
    let plain: Vec<(f64, f64)> = r
        .points
        .iter()
        .filter(|p| p.mark == Mark::Plain)
        .map(|p| (p.offered, scale.map(p.p99)))
        .collect();
    cc.draw_series(plain.into_iter().map(|p| Circle::new(p, 3, PALETTE[0].filled())))
        .map_err(err)?;
    for (mark, color, label) in [
        (Mark::Pass, PASS, "step kept the thresholds"),
        (Mark::Fail, FAIL, "step broke a threshold"),
        (Mark::GeneratorLimited, LIMITED, "generator could not send it"),
    ] {
        let mine: Vec<(f64, f64)> = r
            .points
            .iter()
            .filter(|p| p.mark == mark)
            .map(|p| (p.offered, scale.map(p.p99)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        cc.draw_series(mine.into_iter().map(|p| Circle::new(p, 5, color.filled())))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    legend_box(&mut cc, SeriesLabelPosition::UpperLeft)?;

    // Throughput against the rate offered, with the diagonal a target that keeps up follows.
    let y_end = nice_top(sorted.iter().map(|p| p.achieved).fold(x_top, f64::max));
    let mut cc = ChartBuilder::on(&lower)
        .margin_left(10)
        .margin_right(40)
        .margin_top(8)
        .margin_bottom(6)
        .x_label_area_size(42)
        .y_label_area_size(84)
        .build_cartesian_2d(0.0..x_end, 0.0..y_end)
        .map_err(err)?;
    cc.configure_mesh()
        .x_desc("rate offered (arrivals/s)")
        .y_desc("completed/s")
        .x_label_formatter(&|x| axis_number(*x))
        .y_label_formatter(&|y| axis_number(*y))
        .x_max_light_lines(1)
        .y_max_light_lines(1)
        .label_style((FONT_FAMILY, 14))
        .axis_desc_style((FONT_FAMILY, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    line(
        &mut cc,
        vec![(0.0, 0.0), (x_end.min(y_end), x_end.min(y_end))],
        GREY,
        Stroke::Reference,
        "as offered",
    )?;
    line(
        &mut cc,
        sorted.iter().map(|p| (p.offered, p.achieved)).collect(),
        PALETTE[0],
        Stroke::Solid,
        "achieved",
    )?;
    cc.draw_series(
        sorted
            .iter()
            .map(|p| Circle::new((p.offered, p.achieved), 4, PALETTE[0].filled())),
    )
    .map_err(err)?;
    legend_box(&mut cc, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(err)?;
    Ok(())
}

fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, width, height);
    enc.set_color(::png::ColorType::Rgb);
    enc.set_depth(::png::BitDepth::Eight);
    let mut w = enc.write_header().context("encoding PNG")?;
    w.write_image_data(pixels).context("encoding PNG")?;
    w.finish().context("encoding PNG")?;
    Ok(out)
}

/// Renders with `f` as an SVG document and as a PNG image, `height` pixels high.
fn render(
    what: &str,
    height: u32,
    f: impl Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
    g: impl Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<(String, Vec<u8>)> {
    register()?;
    let mut svg_out = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_out, (WIDTH, height)).into_drawing_area();
        f(&root).with_context(|| format!("drawing the SVG chart {what:?}"))?;
    }
    let mut pixels = vec![0u8; WIDTH as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, height)).into_drawing_area();
        g(&root).with_context(|| format!("drawing the PNG chart {what:?}"))?;
    }
    Ok((svg_out, encode_png(&pixels, WIDTH, height)?))
}

/// Renders a percentile chart as an SVG document and a PNG image ([`WIDTH`] x [`HEIGHT`]).
pub fn chart(c: &Chart) -> Result<(String, Vec<u8>)> {
    render(&c.title, HEIGHT, |r| draw(r, c), |r| draw(r, c))
}

/// Renders a timeline as an SVG document and a PNG image ([`WIDTH`] x [`TIMELINE_HEIGHT`]).
pub fn timeline(t: &Timeline) -> Result<(String, Vec<u8>)> {
    render(
        &t.title,
        TIMELINE_HEIGHT,
        |r| draw_timeline(r, t),
        |r| draw_timeline(r, t),
    )
}

/// Renders bars as an SVG document and a PNG image ([`WIDTH`] x [`Bars::height`]).
pub fn bars(b: &Bars) -> Result<(String, Vec<u8>)> {
    render(&b.title, b.height(), |r| draw_bars(r, b), |r| draw_bars(r, b))
}

/// Renders a rate-latency chart as an SVG document and a PNG image ([`WIDTH`] x
/// [`RATE_LATENCY_HEIGHT`]).
pub fn rate_latency(c: &RateLatency) -> Result<(String, Vec<u8>)> {
    render(
        &c.title,
        RATE_LATENCY_HEIGHT,
        |r| draw_rate_latency(r, c),
        |r| draw_rate_latency(r, c),
    )
}

/// Renders `chart` as an SVG document.
pub fn svg(c: &Chart) -> Result<String> {
    chart(c).map(|(svg, _)| svg)
}

/// Renders `chart` as a PNG image (RGB, [`WIDTH`] x [`HEIGHT`]).
pub fn png(c: &Chart) -> Result<Vec<u8>> {
    chart(c).map(|(_, png)| png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 570.0, 3000.0, 700.0]
            .into_iter()
            .map(percentile_label)
            .collect();
        assert_eq!(
            labels,
            [
                "0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.8%", "99.96%", "99.8%"
            ]
        );
    }

    #[test]
    fn axis_numbers_are_short() {
        let shown: Vec<String> = [0.0, 0.005, 0.02, 0.25, 1.0, 2.5, 12.0, 150.0, 12000.0]
            .into_iter()
            .map(axis_number)
            .collect();
        assert_eq!(shown, ["0", "0.005", "0.02", "0.25", "1", "2.5", "12", "150", "12000"]);
    }

    #[test]
    fn x_axis_ends_at_the_last_percentile() {
        let chart = Chart {
            title: String::new(),
            series: vec![Series {
                label: String::new(),
                points: vec![(1.0, 1.0), (10.0, 2.0), (570.0, 3.0)],
                color: 0,
                stroke: Stroke::Solid,
            }],
            y_axis: YAxis::Log,
        };
        assert_eq!(x_max(&chart), 570.0);
        assert_eq!(x_ticks(570.0), [1.0, 10.0, 100.0, 570.0]);
        // Too close to the decade for a label of its own.
        assert_eq!(x_ticks(1100.0), [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(x_ticks(1000.0), [1.0, 10.0, 100.0, 1000.0]);
    }

    #[test]
    fn log_scale_spans_the_data_on_round_steps() {
        let s = Scale::new(YAxis::Log, [0.0, 0.7, 3.0, 63.9]);
        assert_eq!(s.bounds(), (0.5, 100.0));
        assert!(s.is_log());
        assert_eq!(s.ticks(), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
        // More than 2.5 decades: only the decades are labelled (and the top, far from them).
        assert_eq!(Scale::new(YAxis::Log, [0.07, 63.9]).ticks(), [0.1, 1.0, 10.0, 100.0]);
        assert_eq!(
            Scale::new(YAxis::Log, [12.0, 2600.0]).ticks(),
            [10.0, 100.0, 1000.0, 5000.0]
        );
        let narrow = Scale::new(YAxis::Log, [1.2, 9.0]);
        assert_eq!(narrow.bounds(), (1.0, 10.0));
        assert_eq!(narrow.ticks(), [1.0, 2.0, 5.0, 10.0]);
        // Values at or below 0 sit on the axis's bottom.
        assert_eq!(s.map(0.0), 0.5f64.log10());
        let lin = Scale::new(YAxis::Linear, [0.7, 63.9]);
        assert_eq!(lin.bounds(), (0.0, 70.0));
        assert_eq!(lin.ticks(), [0.0, 20.0, 40.0, 60.0]);
        assert_eq!(lin.map(5.0), 5.0);
    }

    #[test]
    fn empty_chart_still_draws() {
        let chart = Chart {
            title: "empty <&>".into(),
            series: vec![Series {
                label: "none".into(),
                points: vec![],
                color: 0,
                stroke: Stroke::Dashed,
            }],
            y_axis: YAxis::Log,
        };
        assert!(svg(&chart).unwrap().contains("<svg"));
        assert!(png(&chart).unwrap().starts_with(b"\x89PNG"));
        let t = Timeline {
            title: "t".into(),
            rate_label: "sessions/s".into(),
            metric: "session".into(),
            points: vec![],
            end_s: 0.0,
            y_axis: YAxis::Linear,
        };
        assert!(timeline(&t).unwrap().0.contains("failures/s (none)"));
        let b = Bars {
            title: "b".into(),
            panels: vec![BarPanel {
                y_desc: "x".into(),
                bars: vec![],
            }],
        };
        assert!(bars(&b).unwrap().1.starts_with(b"\x89PNG"));
        let r = RateLatency {
            title: "r".into(),
            metric: "session".into(),
            p99_label: "p99".into(),
            points: vec![],
            p99_limit: None,
            knee: None,
            y_axis: YAxis::Log,
        };
        assert!(rate_latency(&r).unwrap().0.contains("<svg"));
    }
}
