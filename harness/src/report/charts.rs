//! SVG charts (plotters) for the HTML report, the bar charts: latency percentiles per run (grouped bars) and
//! 502 by cause per run (stacked bars). Runs are categories, named on the axis (wrapped when long), never
//! joined by a line; legends have their own area and cover no bar. The curves (latency distribution, race
//! window) are `percentiles.rs` and `window.rs`, sharing the size and error type defined here. Each function
//! returns a standalone `<svg>` string; the page decides its layout.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::record::CauseKey;
use crate::result::RunResult;

/// Width of every chart, px.
pub(super) const WIDTH: u32 = 900;
/// Height of every chart's plot (a legend band below comes on top), px.
pub(super) const HEIGHT: u32 = 420;

/// Picks one latency figure out of a result.
type Percentile = fn(&RunResult) -> f64;

/// A chart could not be drawn (plotters' error, as text).
pub type ChartError = String;

pub(super) fn failed<E: std::fmt::Debug>(error: E) -> ChartError {
    format!("chart: {error:?}")
}

/// Width kept right of the plot for the legend, so that it never covers a bar.
const LEGEND_WIDTH: u32 = 170;

/// Pixels per character of the 13 px axis font, to wrap run names under their group.
const CHAR_PX: f64 = 7.0;

/// Height of one line of a run name.
const LINE_PX: i32 = 15;

/// A run name wrapped into lines of about `width` characters, broken only after a space, `+`, `-`, `_` or
/// `→`, never inside a word: a piece longer than a line gets a line of its own and may run over.
fn wrap(name: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    for c in name.chars() {
        piece.push(c);
        if matches!(c, ' ' | '+' | '-' | '_' | '→') {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let fits = line.trim_end().chars().count() + piece.trim_end().chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(line.trim_end().to_owned());
            line.clear();
        }
        line.push_str(&piece);
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// Characters of a run name that fit under its group.
fn group_chars(results: &[RunResult]) -> usize {
    let plot_px = f64::from(WIDTH - LEGEND_WIDTH - 100);
    (plot_px / results.len().max(1) as f64 / CHAR_PX) as usize
}

/// The label area under the bars: as many lines as the longest wrapped name.
fn label_area(results: &[RunResult]) -> u32 {
    let chars = group_chars(results);
    let lines = results
        .iter()
        .map(|r| wrap(&r.scenario, chars).len())
        .max()
        .unwrap_or(1);
    (lines.max(1) as u32) * LINE_PX as u32 + 16
}

/// Writes each run's name, wrapped, centred under its group at `(x, 0)` of the chart.
fn draw_run_names<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    results: &[RunResult],
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let chars = group_chars(results);
    let style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (index, result) in results.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(index as f64, 0.0));
        for (line_index, line) in wrap(&result.scenario, chars).into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (x, y + 6 + line_index as i32 * LINE_PX),
                style.clone(),
            ))
            .map_err(failed)?;
        }
    }
    Ok(())
}

/// The legend, drawn in its own area right of the plot: a swatch and a name per series.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, RGBAColor)],
) -> Result<(), ChartError> {
    for (index, (name, color)) in entries.iter().enumerate() {
        let y = 48 + index as i32 * 20;
        area.draw(&Rectangle::new([(8, y - 6), (20, y + 6)], color.filled()))
            .map_err(failed)?;
        area.draw(&Text::new(
            name.clone(),
            (26, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(failed)?;
    }
    Ok(())
}

/// p50, p90, p99 and max latency of every run as grouped bars, one group per run named on the axis.
pub fn latency_chart(results: &[RunResult]) -> Result<String, ChartError> {
    let series: [(&str, Percentile, RGBColor); 4] = [
        ("p50", |r| r.latency_ms.p50, RGBColor(0x1f, 0x77, 0xb4)),
        ("p90", |r| r.latency_ms.p90, RGBColor(0x2c, 0xa0, 0x2c)),
        ("p99", |r| r.latency_ms.p99, RGBColor(0xd6, 0x27, 0x28)),
        ("max", |r| r.latency_ms.max, RGBColor(0x44, 0x44, 0x44)),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let (plot, side) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let top = results
            .iter()
            .map(|r| r.latency_ms.max.max(r.latency_ms.p99))
            .fold(0.001_f64, f64::max)
            * 1.1;
        let runs = results.len().max(1);
        let mut chart = ChartBuilder::on(&plot)
            .caption("latency by run (ms)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(label_area(results))
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..(runs as f64 - 0.5), 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("ms")
            .draw()
            .map_err(failed)?;
        let width = 0.8 / series.len() as f64;
        for (k, (_, value, color)) in series.iter().enumerate() {
            let bars = results.iter().enumerate().map(|(i, r)| {
                let left = i as f64 - 0.4 + k as f64 * width;
                Rectangle::new(
                    [(left, 0.0), (left + width * 0.9, value(r))],
                    color.filled(),
                )
            });
            chart.draw_series(bars).map_err(failed)?;
        }
        let entries: Vec<(String, RGBAColor)> = series
            .iter()
            .map(|(name, _, color)| ((*name).to_owned(), color.to_rgba()))
            .collect();
        legend(&side, &entries)?;
        draw_run_names(&root, &chart, results)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// 502 per 10k requests of every run, stacked by cause, one bar per run named on the axis; the legend sits
/// right of the plot.
pub fn causes_chart(results: &[RunResult]) -> Result<String, ChartError> {
    let mut causes: Vec<&CauseKey> = results.iter().flat_map(|r| r.causes.keys()).collect();
    causes.sort();
    causes.dedup();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let (plot, side) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let top = results
            .iter()
            .map(RunResult::bad_gateways_per_10k)
            .fold(1.0_f64, f64::max)
            * 1.15;
        let runs = results.len().max(1);
        let mut chart = ChartBuilder::on(&plot)
            .caption("502 per 10k requests, by cause", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(label_area(results))
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..(runs as f64 - 0.5), 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("502 / 10k")
            .draw()
            .map_err(failed)?;
        let mut entries = Vec::new();
        for (index, cause) in causes.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let rectangles = results.iter().enumerate().filter_map(|(run, result)| {
                let below: f64 = causes[..index].iter().map(|c| per_10k(result, c)).sum();
                let height = per_10k(result, cause);
                (height > 0.0).then(|| {
                    let x = run as f64;
                    Rectangle::new(
                        [(x - 0.3, below), (x + 0.3, below + height)],
                        color.filled(),
                    )
                })
            });
            chart.draw_series(rectangles).map_err(failed)?;
            entries.push((cause.as_str().to_owned(), color));
        }
        if entries.is_empty() {
            side.draw(&Text::new(
                "no 502",
                (8, 41),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(failed)?;
        }
        legend(&side, &entries)?;
        draw_run_names(&root, &chart, results)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn per_10k(result: &RunResult, cause: &CauseKey) -> f64 {
    if result.requests == 0 {
        return 0.0;
    }
    result.causes.get(cause).copied().unwrap_or(0) as f64 * 10_000.0 / result.requests as f64
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn names_wrap_at_separators_never_inside_a_word() {
        let lines = wrap("keepalive-race+front-idle-below-back", 30);
        assert_eq!(lines, ["keepalive-race+front-idle-", "below-back"]);
        assert_eq!(wrap("retry-idempotent", 15), ["retry-", "idempotent"]);
        assert_eq!(wrap("nginx → apache", 8), ["nginx →", "apache"]);
        // A word longer than a line keeps its letters together.
        assert_eq!(wrap("supercalifragilistic", 6), ["supercalifragilistic"]);
        for name in ["a_b-c+d e→f", "keepalive-race+front-idle-below-back", "x"] {
            for width in 4..20 {
                let joined: String = wrap(name, width).concat();
                let squeezed: String = name.chars().filter(|c| *c != ' ').collect();
                assert_eq!(joined.replace(' ', ""), squeezed, "{name} at {width}");
            }
        }
    }
}
