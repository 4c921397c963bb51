//! The page's wire stories: every kept timeline of every run as an SVG ladder (gateway, link and back as three
//! vertical lines; each event a row; each link crossing an arrow from the row it entered the link to the row
//! it left it), the first few expanded. `html.rs` calls [`timelines_section`] once; the rows and labels are
//! `ladder.rs`'s.

use std::fmt::Write as _;

use timeline::{Direction, EventKind};

use super::escape;
use super::ladder::{explain, front_name, row_label, summary};
use crate::result::RunResult;
use crate::timelines::{Tier, Timeline, TimelineEvent};

/// Timelines shown expanded on the page; the others are folded.
pub const EXPANDED: usize = 3;

/// Rows an SVG ladder draws at most (the JSON holds every event).
const MAX_ROWS: usize = 40;

const WIDTH: usize = 960;
const ROW: usize = 20;
const TOP: usize = 40;
const GATEWAY_X: usize = 300;
const LINK_X: usize = 500;
const BACK_X: usize = 640;

/// The section, empty when no run kept a timeline.
pub fn timelines_section(runs: &[RunResult]) -> String {
    let mut section = String::new();
    let mut shown = 0;
    for run in runs {
        for timeline in &run.timelines {
            if shown == 0 {
                section.push_str("<h2>Wire stories of the failed requests</h2>\n");
            }
            let open = if shown < EXPANDED {
                " open=\"open\""
            } else {
                ""
            };
            let _ = write!(
                section,
                "<details class=\"timeline\"{open}>\n<summary>{}: {}</summary>\n{}\n<p>{}</p>\n</details>\n",
                escape(&run.scenario),
                escape(&summary(timeline)),
                ladder_svg(timeline, shown),
                escape(&explain(timeline))
            );
            shown += 1;
        }
    }
    section
}

/// One timeline as an SVG ladder; `index` keeps its element ids unique on the page.
pub fn ladder_svg(timeline: &Timeline, index: usize) -> String {
    let rows: Vec<&TimelineEvent> = timeline.events.iter().take(MAX_ROWS).collect();
    let height = TOP + ROW * (rows.len() + 1);
    let marker = format!("arrow{index}");
    let backdrop = format!("label{index}");
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#c0392b\"/>\
         </marker><filter id=\"{backdrop}\" x=\"-0.02\" y=\"0\" width=\"1.04\" height=\"1\">\
         <feFlood flood-color=\"#fff\"/><feComposite in=\"SourceGraphic\" operator=\"over\"/></filter></defs>"
    );
    for (x, name) in [
        (GATEWAY_X, front_name(timeline).to_owned()),
        (LINK_X, format!("link ({:.1} ms)", timeline.link_latency_ms)),
        (BACK_X, "back".to_owned()),
    ] {
        let dash = if x == LINK_X {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <line x1=\"{x}\" y1=\"24\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\"{dash}/>",
            escape(&name),
            height - 8
        );
    }
    // Lines first, every label after them on a white box as large as its text (the `label` filter), so no
    // line crosses text.
    let mut labels = String::new();
    for (row, event) in rows.iter().enumerate() {
        let y = TOP + ROW * row;
        let _ = write!(
            labels,
            "<text x=\"4\" y=\"{}\" fill=\"#555\">{:+.3} ms</text>",
            y + 4,
            event.t_ms
        );
        if let Some((from_row, from_x, to_x)) = crossing(&rows, row) {
            let _ = write!(
                svg,
                "<line x1=\"{from_x}\" y1=\"{}\" x2=\"{to_x}\" y2=\"{y}\" stroke=\"#c0392b\" \
                 marker-end=\"url(#{marker})\"/>",
                TOP + ROW * from_row
            );
        }
        let (x, anchor, dx) = match event.tier {
            Tier::Gateway => (GATEWAY_X, "end", -8),
            Tier::Link => (LINK_X, "middle", 0),
            Tier::Back => (BACK_X, "start", 8),
        };
        // A link label sits above its dot, clear of it.
        let text_y = if event.tier == Tier::Link {
            y - 6
        } else {
            y + 4
        };
        let _ = write!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"#222\"/>");
        let _ = write!(
            labels,
            "<text x=\"{}\" y=\"{text_y}\" text-anchor=\"{anchor}\" filter=\"url(#{backdrop})\">{}</text>",
            x as i64 + dx,
            escape(&row_label(timeline, event))
        );
    }
    svg.push_str(&labels);
    svg.push_str("</svg>");
    svg
}

/// For a link delivery at `row`: the row where the segment entered the link and the two columns it crosses.
fn crossing(rows: &[&TimelineEvent], row: usize) -> Option<(usize, usize, usize)> {
    let EventKind::Delivered {
        dir,
        segment,
        bytes,
        ..
    } = rows[row].what
    else {
        return None;
    };
    let from_row = rows[..row].iter().rposition(|event| {
        event.what
            == EventKind::Received {
                dir,
                segment,
                bytes,
            }
    })?;
    Some(match dir {
        Direction::ToBack => (from_row, GATEWAY_X, BACK_X),
        Direction::ToFront => (from_row, BACK_X, GATEWAY_X),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ladder::tests::race;

    #[test]
    fn a_crossing_is_an_arrow_and_every_event_a_labelled_row() {
        let timeline = race();
        let svg = ladder_svg(&timeline, 7);
        let parsed = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let texts: Vec<&str> = parsed
            .descendants()
            .filter(|node| node.has_tag_name("text"))
            .filter_map(|node| node.text())
            .collect();
        assert!(texts.contains(&"reads EOF"), "{texts:?}");
        let arrows = parsed
            .descendants()
            .filter(|node| node.has_tag_name("line") && node.attribute("marker-end").is_some())
            .count();
        assert_eq!(arrows, 1, "the FIN's crossing");
        assert!(svg.contains("id=\"arrow7\""));
        // Every line is drawn before every event label, and each label sits on its own white box.
        let nodes: Vec<roxmltree::Node> = parsed.descendants().collect();
        let last_line = nodes
            .iter()
            .rposition(|node| node.has_tag_name("line"))
            .unwrap();
        let labels: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.attribute("filter") == Some("url(#label7)"))
            .map(|(at, _)| at)
            .collect();
        assert_eq!(
            labels.len(),
            timeline.events.len(),
            "one boxed label per event"
        );
        assert!(labels.iter().all(|&at| at > last_line));
        assert!(
            parsed
                .descendants()
                .any(|node| node.attribute("id") == Some("label7"))
        );
    }

    #[test]
    fn the_section_expands_the_first_few_and_folds_the_rest() {
        let mut run: RunResult = serde_json::from_value(serde_json::json!({
            "scenario": "race", "settings": null, "requests": 10, "responses": {"502": 10},
            "client_errors": {}, "causes": {"reused-closed": 10},
            "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
            "throughput_rps": 1.0, "upstream_connections": 1, "retries": 0, "unaccounted": 0,
            "duration_s": 1.0, "seed": 1
        }))
        .expect("the contract parses");
        run.timelines = vec![race(); EXPANDED + 2];
        let section = timelines_section(std::slice::from_ref(&run));
        let page = format!("<body xmlns=\"http://www.w3.org/1999/xhtml\">{section}</body>");
        let parsed = roxmltree::Document::parse(&page).expect("well-formed XHTML");
        let details: Vec<bool> = parsed
            .descendants()
            .filter(|node| node.has_tag_name("details"))
            .map(|node| node.attribute("open").is_some())
            .collect();
        assert_eq!(details.len(), EXPANDED + 2);
        assert_eq!(details.iter().filter(|open| **open).count(), EXPANDED);
        assert!(details[0] && !details[EXPANDED]);
        assert_eq!(timelines_section(&[]), "");
    }
}
