//! The flow graph as SVG, drawn from the configuration: folders and jobs as
//! boxes in columns (each job right of the folders it reads, each folder
//! right of the job writing it), arrows from folders to the jobs reading
//! them and from jobs to their target folders.
//!
//! Pure: it reads a `Config` and returns markup with every name escaped.
//! The page's script colours the job boxes by their state (`data-job`).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::config::Config;
use crate::serve::text::escape_html;

const BOX_W: i64 = 120;
const BOX_H: i64 = 46;
const COL_GAP: i64 = 40;
const ROW_GAP: i64 = 22;
const MARGIN: i64 = 12;
/// Space between lanes of arrows that skip columns, below the boxes.
const LANE_GAP: i64 = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Folder,
    Job { program: String },
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    kind: Kind,
    column: i64,
    row: i64,
}

#[derive(Debug, Clone)]
struct Edge {
    from: usize,
    to: usize,
    /// The pattern the arrow stands for, shown as a tooltip.
    title: String,
}

/// Nodes and edges with folders and jobs placed in columns by the order
/// the jobs run in (`config.jobs` is already in that order).
#[derive(Debug, Default)]
struct Layout {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    folders: HashMap<String, usize>,
}

impl Layout {
    fn of(config: &Config) -> Self {
        let mut layout = Self::default();
        let mut rows: HashMap<i64, i64> = HashMap::new();
        for job in &config.jobs {
            let reads: Vec<(usize, String)> = std::iter::once(&job.source)
                .chain(job.inputs.iter().map(|(_, pattern)| pattern))
                .map(|pattern| {
                    let folder = layout.folder(&pattern.root, 0, &mut rows);
                    (folder, pattern.display())
                })
                .collect();
            let column = reads
                .iter()
                .map(|(folder, _)| layout.nodes[*folder].column + 1)
                .max()
                .unwrap_or(1);
            let id = layout.add(
                job.name.clone(),
                Kind::Job {
                    program: program(job),
                },
                column,
                &mut rows,
            );
            for (folder, title) in reads {
                layout.edges.push(Edge {
                    from: folder,
                    to: id,
                    title,
                });
            }
            let target = layout.folder(&job.target.root, column + 1, &mut rows);
            let title = job.target.display();
            layout.edges.push(Edge {
                from: id,
                to: target,
                title,
            });
        }
        layout
    }

    /// The node of a folder, added at `column` when new.
    fn folder(&mut self, name: &str, column: i64, rows: &mut HashMap<i64, i64>) -> usize {
        let shown = if name.is_empty() { "." } else { name };
        if let Some(&id) = self.folders.get(shown) {
            return id;
        }
        let id = self.add(shown.to_owned(), Kind::Folder, column, rows);
        self.folders.insert(shown.to_owned(), id);
        id
    }

    fn add(
        &mut self,
        name: String,
        kind: Kind,
        column: i64,
        rows: &mut HashMap<i64, i64>,
    ) -> usize {
        let row = rows.entry(column).or_insert(0);
        self.nodes.push(Node {
            name,
            kind,
            column,
            row: *row,
        });
        *row += 1;
        self.nodes.len() - 1
    }
}

fn program(job: &crate::config::Job) -> String {
    job.program
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
}

fn x(node: &Node) -> i64 {
    MARGIN + node.column * (BOX_W + COL_GAP)
}

fn y(node: &Node) -> i64 {
    MARGIN + node.row * (BOX_H + ROW_GAP)
}

/// The SVG element for the flow of `config`.
pub(crate) fn svg(config: &Config) -> String {
    let layout = Layout::of(config);
    let columns = layout
        .nodes
        .iter()
        .map(|node| node.column + 1)
        .max()
        .unwrap_or(1);
    let boxes_bottom = layout
        .nodes
        .iter()
        .map(|node| y(node) + BOX_H)
        .max()
        .unwrap_or(BOX_H);
    let mut edges = String::new();
    let mut lanes = 0;
    for edge in &layout.edges {
        let (from, to) = (&layout.nodes[edge.from], &layout.nodes[edge.to]);
        let lane = (to.column - from.column > 1).then(|| {
            lanes += 1;
            boxes_bottom + lanes * LANE_GAP
        });
        let _ = write!(
            edges,
            "<path class=\"edge\" d=\"{}\" marker-end=\"url(#arrow)\"><title>{}</title></path>",
            edge_path(from, to, lane),
            escape_html(&edge.title)
        );
    }
    let width = MARGIN * 2 + columns * BOX_W + (columns - 1) * COL_GAP;
    let height = boxes_bottom + lanes * LANE_GAP + MARGIN + 4;
    let mut out = format!(
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"graph-title\">\
         <title id=\"graph-title\">Flow graph: folders and the jobs between them</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>"
    );
    out.push_str(&edges);
    for node in &layout.nodes {
        out.push_str(&node_markup(node));
    }
    out.push_str("</svg>");
    out
}

/// A curve from the right of `from` to the left of `to`; an arrow that
/// skips columns runs along `lane`, below the boxes it would cross.
fn edge_path(from: &Node, to: &Node, lane: Option<i64>) -> String {
    let (x1, y1) = (x(from) + BOX_W, y(from) + BOX_H / 2);
    let (x2, y2) = (x(to) - 2, y(to) + BOX_H / 2);
    let bend = COL_GAP / 2;
    match lane {
        None => format!(
            "M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}",
            x1 + bend,
            x2 - bend
        ),
        Some(lane) => format!(
            "M{x1},{y1} C{},{y1} {x1},{lane} {},{lane} L{},{lane} C{x2},{lane} {},{y2} {x2},{y2}",
            x1 + bend,
            x1 + bend,
            x2 - bend,
            x2 - bend
        ),
    }
}

fn node_markup(node: &Node) -> String {
    let (left, top) = (x(node), y(node));
    let name = escape_html(&node.name);
    let (mid, text_y) = (left + BOX_W / 2, top + BOX_H / 2);
    match &node.kind {
        Kind::Folder => format!(
            "<g class=\"node folder\"><rect x=\"{left}\" y=\"{top}\" width=\"{BOX_W}\" height=\"{BOX_H}\" \
             rx=\"4\"/><text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{name}/</text></g>",
            text_y + 5
        ),
        Kind::Job { program } => format!(
            "<a class=\"node job state-none\" data-job=\"{name}\" href=\"#job-{name}\">\
             <title>job {name}</title>\
             <rect x=\"{left}\" y=\"{top}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"10\"/>\
             <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" class=\"name\">{name}</text>\
             <text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" class=\"sub\">{}</text></a>",
            text_y - 3,
            text_y + 13,
            escape_html(program)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(column: i64, row: i64) -> Node {
        Node {
            name: "n".into(),
            kind: Kind::Folder,
            column,
            row,
        }
    }

    #[test]
    fn a_neighbour_gets_a_plain_curve_and_a_skip_a_lane() {
        let plain = edge_path(&node(0, 0), &node(1, 0), None);
        assert!(plain.starts_with("M132,35 C152,35"), "{plain}");
        let lane = edge_path(&node(0, 0), &node(3, 0), Some(80));
        assert!(lane.contains(" L"), "{lane}");
        assert!(lane.contains(",80 "), "{lane}");
    }
}
