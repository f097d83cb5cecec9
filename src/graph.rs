//! The gate DAG: cycle detection, selection of what to run, topological order, and renderings.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::{Config, Gate};
use crate::diag::Diagnostic;

/// Gates as nodes (index = position in `Config::gates`), an edge from each need to its dependent.
#[derive(Debug)]
pub struct GateGraph {
    graph: DiGraph<usize, ()>,
    by_name: HashMap<String, usize>,
}

impl GateGraph {
    /// Build the graph; a cycle is a config error naming its path (`a -> b -> a`, "a needs b").
    pub fn build(config: &Config) -> Result<Self, Vec<Diagnostic>> {
        let mut graph = DiGraph::with_capacity(config.gates.len(), config.gates.len() * 2);
        let by_name: HashMap<String, usize> = config
            .gates
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), i))
            .collect();
        for i in 0..config.gates.len() {
            graph.add_node(i);
        }
        for (i, gate) in config.gates.iter().enumerate() {
            for need in &gate.needs {
                if let Some(&j) = by_name.get(need) {
                    graph.add_edge(NodeIndex::new(j), NodeIndex::new(i), ());
                }
            }
        }
        let this = GateGraph { graph, by_name };
        let cycles = this.cycles(&config.gates);
        if cycles.is_empty() {
            return Ok(this);
        }
        Err(cycles
            .into_iter()
            .map(|cycle| {
                let first = &config.gates[cycle[0]];
                let path: Vec<&str> = cycle
                    .iter()
                    .chain(std::iter::once(&cycle[0]))
                    .map(|&i| config.gates[i].name.as_str())
                    .collect();
                Diagnostic::new(
                    &config.file_name,
                    Some(first.span.clone()),
                    format!("dependency cycle: {}", path.join(" -> ")),
                )
                .with_help("`needs` must form a DAG; remove one of these needs")
            })
            .collect())
    }

    /// One cycle per strongly connected component that has one, each as gate indices in
    /// "needs" order, starting from the gate declared first.
    fn cycles(&self, gates: &[Gate]) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        for scc in petgraph::algo::kosaraju_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let members: BTreeSet<usize> = scc.iter().map(|n| self.graph[*n]).collect();
            let start = *members.iter().next().unwrap_or(&0);
            // Walk "needs" edges (incoming in our orientation) inside the component until we loop.
            let mut path = vec![start];
            let mut seen = HashMap::from([(start, 0usize)]);
            let mut current = start;
            loop {
                let next = gates[current]
                    .needs
                    .iter()
                    .filter_map(|n| self.by_name.get(n).copied())
                    .find(|j| members.contains(j));
                let Some(next) = next else { break };
                if let Some(&pos) = seen.get(&next) {
                    path.drain(..pos);
                    break;
                }
                seen.insert(next, path.len());
                path.push(next);
                current = next;
            }
            out.push(path);
        }
        out.sort();
        out
    }

    /// Index of a gate by name.
    #[must_use]
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Gates that `gate` needs directly.
    pub fn needs(&self, gate: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(gate), Direction::Incoming)
            .map(|n| self.graph[n])
    }

    /// Gates that need `gate` directly.
    pub fn dependents(&self, gate: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(gate), Direction::Outgoing)
            .map(|n| self.graph[n])
    }

    /// `roots` plus everything they need, transitively.
    #[must_use]
    pub fn with_needs(&self, roots: &[usize]) -> BTreeSet<usize> {
        self.with_needs_of(roots, |_| false)
    }

    /// `roots` plus everything they need, transitively, except what only gates that `skips`
    /// are needed by: a gate that will be skipped is selected, its needs are not (on its
    /// account).
    #[must_use]
    pub fn with_needs_of(&self, roots: &[usize], skips: impl Fn(usize) -> bool) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(g) = stack.pop() {
            if out.insert(g) && !skips(g) {
                stack.extend(self.needs(g));
            }
        }
        out
    }

    /// Topological order of all gates (needs first), ties broken by declaration order.
    #[must_use]
    pub fn topo_order(&self) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut indegree: Vec<usize> = (0..n).map(|i| self.needs(i).count()).collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
            .filter(|&i| indegree[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(g)) = ready.pop() {
            order.push(g);
            for d in self.dependents(g) {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.push(std::cmp::Reverse(d));
                }
            }
        }
        order
    }

    /// Number of edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
}

/// Output formats of `runner graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (observational gates dashed).
    Dot,
    /// Mermaid flowchart.
    Mermaid,
    /// JSON: the gates and the edges between them.
    Json,
}

/// Render the DAG (edges point from a need to the gate that needs it).
#[must_use]
pub fn render(config: &Config, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            out.push_str("digraph gates {\n  rankdir=LR;\n");
            for g in &config.gates {
                let style = if g.mode == crate::vocab::Mode::Observational {
                    ", style=dashed"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  \"{}\" [label=\"{}\\n({})\"{style}];",
                    g.name,
                    g.name,
                    g.kind.name()
                );
            }
            for g in &config.gates {
                for n in &g.needs {
                    let _ = writeln!(out, "  \"{n}\" -> \"{}\";", g.name);
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("graph LR\n");
            let id = |name: &str| name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            for g in &config.gates {
                let _ = writeln!(out, "  {}[\"{} ({})\"]", id(&g.name), g.name, g.kind.name());
            }
            for g in &config.gates {
                for n in &g.needs {
                    let _ = writeln!(out, "  {} --> {}", id(n), id(&g.name));
                }
            }
        }
        GraphFormat::Json => {
            let nodes: Vec<serde_json::Value> = config
                .gates
                .iter()
                .map(|g| serde_json::json!({"name": g.name, "kind": g.kind.name(), "mode": g.mode.as_str(), "needs": g.needs, "tags": g.tags}))
                .collect();
            let edges: Vec<serde_json::Value> = config
                .gates
                .iter()
                .flat_map(|g| {
                    g.needs
                        .iter()
                        .map(move |n| serde_json::json!({"from": n, "to": g.name}))
                })
                .collect();
            out =
                serde_json::to_string_pretty(&serde_json::json!({"gates": nodes, "edges": edges}))
                    .unwrap_or_default();
            out.push('\n');
        }
    }
    out
}
