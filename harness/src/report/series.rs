//! How the curve charts (`percentiles.rs`, `window.rs`) tell their curves apart: one colour and one marker
//! per series, so that curves lying on each other stay visible, and the legend in its own band under the
//! plot, one line per series with the full run name, so that it covers nothing however long the names are.
//! A run's style is chosen by its place among the page's runs, so it looks the same on every chart.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::charts::{ChartError, failed};

/// Ten colours that stay apart on white (Tableau 10).
const COLOURS: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Height of one legend line.
const LEGEND_LINE_PX: u32 = 20;

/// The look of series number `index`: a colour and a marker, neither repeating with the other in the first
/// fifty series.
#[derive(Debug, Clone, Copy)]
pub struct SeriesStyle {
    /// Line and marker colour.
    pub colour: RGBColor,
    marker: Marker,
}

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
    Ring,
}

const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Cross,
    Marker::Ring,
];

impl SeriesStyle {
    /// The style of series `index`.
    pub fn of(index: usize) -> Self {
        Self {
            colour: COLOURS[index % COLOURS.len()],
            marker: MARKERS[(index + index / COLOURS.len()) % MARKERS.len()],
        }
    }

    /// Draws this series' marker at the pixel `at` of `area`.
    pub fn draw_marker<C>(
        &self,
        area: &DrawingArea<SVGBackend<'_>, C>,
        at: (i32, i32),
    ) -> Result<(), ChartError>
    where
        C: plotters::coord::CoordTranslate<From = (i32, i32)>,
    {
        let filled = self.colour.filled();
        let line = self.colour.stroke_width(2);
        let (x, y) = at;
        match self.marker {
            Marker::Circle => area.draw(&Circle::new(at, 4, filled)),
            Marker::Triangle => area.draw(&TriangleMarker::new(at, 6, filled)),
            Marker::Square => area.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], filled)),
            Marker::Cross => area.draw(&Cross::new(at, 4, line)),
            Marker::Ring => area.draw(&Circle::new(at, 5, line)),
        }
        .map_err(failed)
    }
}

/// Height of the legend band for `entries` series.
pub fn legend_height(entries: usize) -> u32 {
    entries as u32 * LEGEND_LINE_PX + 12
}

/// The legend band: per series (its style number and name) a short line, its marker and its name.
pub fn legend_below(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(usize, String)],
) -> Result<(), ChartError> {
    let entries: Vec<(usize, String, bool)> = entries
        .iter()
        .map(|(index, name)| (*index, name.clone(), false))
        .collect();
    legend_below_flat(area, &entries)
}

/// [`legend_below`] where an entry marked flat (a series drawn as a thin line without markers) shows a thin
/// line and no marker, as it is drawn.
pub fn legend_below_flat(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    entries: &[(usize, String, bool)],
) -> Result<(), ChartError> {
    for (line, (index, name, flat)) in entries.iter().enumerate() {
        let style = SeriesStyle::of(*index);
        let y = 10 + line as i32 * LEGEND_LINE_PX as i32;
        if *flat {
            area.draw(&PathElement::new(
                [(70, y), (100, y)],
                style.colour.mix(0.6).stroke_width(1),
            ))
            .map_err(failed)?;
        } else {
            area.draw(&PathElement::new(
                [(70, y), (100, y)],
                style.colour.stroke_width(2),
            ))
            .map_err(failed)?;
            style.draw_marker(area, (85, y))?;
        }
        area.draw(&Text::new(
            name.clone(),
            (110, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(failed)?;
    }
    Ok(())
}
