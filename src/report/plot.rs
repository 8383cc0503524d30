//! Percentile-distribution charts, drawn as HdrHistogram's plotter draws them: latency in
//! milliseconds (y) against percentile on a 1/(1-p) logarithmic x axis, ticks labelled 0%, 90%,
//! 99%, 99.9%, ... One series per run; SVG and PNG from the same drawing code.
//!
//! Text in PNGs is rendered with DejaVu Sans, bundled in the binary (`assets/`), so no system font
//! is looked up; SVGs name the `sans-serif` family and leave rendering to the viewer.

use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::combinators::{BindKeyPoints, IntoLogRange};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::hgrm::{Row, VALUE_SCALE};

/// Chart width in pixels (SVG and PNG).
pub const WIDTH: u32 = 960;
/// Chart height in pixels (SVG and PNG).
pub const HEIGHT: u32 = 540;

/// The font every chart's text uses, bundled so PNG text never depends on the system.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FONT_FAMILY: &str = "sans-serif";

/// Series colours (colour-blind-friendly, Okabe-Ito).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (1/(1-p), latency in ms) points, p < 1.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The points of a percentile distribution (the 100% row, at infinity, is left out).
    pub fn from_rows(label: impl Into<String>, rows: &[Row]) -> Series {
        let points = rows
            .iter()
            .filter(|r| r.quantile < 1.0)
            .map(|r| (1.0 / (1.0 - r.quantile), r.value as f64 / VALUE_SCALE))
            .collect();
        Series {
            label: label.into(),
            points,
        }
    }
}

/// A chart: a title and its series.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Lines to draw, in legend order.
    pub series: Vec<Series>,
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

/// Labels a 1/(1-p) tick as its percentile: 1 -> 0%, 10 -> 90%, 100 -> 99%, 1000 -> 99.9%, ...
pub fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let decimals = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{p:.decimals$}%")
}

/// The x axis's upper end: the next power of ten above the data, at least 100 (99%).
fn x_max(chart: &Chart) -> f64 {
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    10f64.powf(top.log10().floor() + 1.0).max(100.0)
}

fn y_max(chart: &Chart) -> f64 {
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    if top > 0.0 { top * 1.08 } else { 1.0 }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let xmax = x_max(chart);
    let decades = xmax.log10().round() as i32;
    let ticks: Vec<f64> = (0..=decades).map(|d| 10f64.powi(d)).collect();
    let mut cc = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 22))
        .margin(14)
        .margin_right(36)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..xmax).log_scale().with_key_points(ticks), 0.0..y_max(chart))
        .map_err(|e| anyhow!("{e}"))?;
    cc.configure_mesh()
        .x_desc("Percentile")
        .y_desc("Latency (ms)")
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style((FONT_FAMILY, 15))
        .axis_desc_style((FONT_FAMILY, 16))
        .y_max_light_lines(2)
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        cc.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    cc.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT_FAMILY, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// A phase's timeline: per-second rates and failures above, p50/p99 latency below.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Title above the plot.
    pub title: String,
    /// Name of the rate drawn (e.g. `sessions/s`).
    pub rate_label: String,
    /// The latency metric drawn (e.g. `session`).
    pub metric: String,
    /// (seconds from the window's start, rate, failures per second, p50 ms, p99 ms) per interval.
    pub points: Vec<(f64, f64, f64, f64, f64)>,
}

/// One timeline point: (seconds, rate, failures per second, p50 ms, p99 ms).
type Point = (f64, f64, f64, f64, f64);
/// A panel: its area, y range top, y label, and two (label, value) series.
type Panel<'a, DB> = (
    &'a DrawingArea<DB, Shift>,
    f64,
    &'a str,
    [(&'a str, fn(&Point) -> f64); 2],
);

fn draw_timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, t: &Timeline) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let root = root.titled(&t.title, (FONT_FAMILY, 22)).map_err(|e| anyhow!("{e}"))?;
    let (upper, lower) = root.split_vertically(HEIGHT / 2 - 10);
    let x_end = t.points.iter().map(|p| p.0).fold(1.0f64, f64::max) + 1.0;
    let top = |f: fn(&Point) -> f64| t.points.iter().map(f).fold(0.0f64, f64::max);
    let rate_max = (top(|p| p.1).max(top(|p| p.2)) * 1.1).max(1.0);
    let lat_max = (top(|p| p.4) * 1.1).max(0.01);
    let panels: [Panel<'_, DB>; 2] = [
        (
            &upper,
            rate_max,
            "per second",
            [(&t.rate_label, |p| p.1), ("failures/s", |p| p.2)],
        ),
        (&lower, lat_max, "latency (ms)", [("p50", |p| p.3), ("p99", |p| p.4)]),
    ];
    for (i, (area, ymax, ydesc, series)) in panels.into_iter().enumerate() {
        let mut cc = ChartBuilder::on(area)
            .margin(10)
            .margin_right(36)
            .x_label_area_size(if i == 1 { 40 } else { 20 })
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_end, 0.0..ymax)
            .map_err(|e| anyhow!("{e}"))?;
        cc.configure_mesh()
            .x_desc(if i == 1 { "seconds into the measured window" } else { "" })
            .y_desc(ydesc)
            .y_label_formatter(&|y| {
                if *y >= 100.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.2}")
                }
            })
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (j, (label, f)) in series.into_iter().enumerate() {
            let color = PALETTE[(2 * i + j) % PALETTE.len()];
            let label = if i == 1 {
                format!("{} {label}", t.metric)
            } else {
                label.to_owned()
            };
            cc.draw_series(LineSeries::new(
                t.points.iter().map(|p| (p.0, f(p))),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
        }
        cc.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT_FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Renders a timeline as an SVG document and a PNG image.
pub fn timeline(t: &Timeline) -> Result<(String, Vec<u8>)> {
    register()?;
    let mut svg_out = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_out, (WIDTH, HEIGHT)).into_drawing_area();
        draw_timeline(&root, t).with_context(|| format!("drawing the timeline {:?}", t.title))?;
    }
    let mut pixels = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw_timeline(&root, t).with_context(|| format!("drawing the timeline {:?}", t.title))?;
    }
    Ok((svg_out, encode_png(&pixels)?))
}

fn encode_png(pixels: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, WIDTH, HEIGHT);
    enc.set_color(::png::ColorType::Rgb);
    enc.set_depth(::png::BitDepth::Eight);
    let mut w = enc.write_header().context("encoding PNG")?;
    w.write_image_data(pixels).context("encoding PNG")?;
    w.finish().context("encoding PNG")?;
    Ok(out)
}

/// Renders `chart` as an SVG document.
pub fn svg(chart: &Chart) -> Result<String> {
    register()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).with_context(|| format!("drawing the SVG chart {:?}", chart.title))?;
    }
    Ok(out)
}

/// Renders `chart` as a PNG image (RGB, [`WIDTH`] x [`HEIGHT`]).
pub fn png(chart: &Chart) -> Result<Vec<u8>> {
    register()?;
    let mut pixels = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).with_context(|| format!("drawing the PNG chart {:?}", chart.title))?;
    }
    encode_png(&pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
            .into_iter()
            .map(percentile_label)
            .collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    }

    #[test]
    fn empty_chart_still_draws() {
        let chart = Chart {
            title: "empty <&>".into(),
            series: vec![Series {
                label: "none".into(),
                points: vec![],
            }],
        };
        assert!(svg(&chart).unwrap().contains("<svg"));
        assert!(png(&chart).unwrap().starts_with(b"\x89PNG"));
    }
}
