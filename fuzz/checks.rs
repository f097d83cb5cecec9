//! The properties the fuzz targets check, shared with the regression test target
//! (`tests/fuzz_regressions.rs`), which replays the committed corpus and crash reproducers.

use std::path::Path;

/// `runner::config::parse` (and the graph built from what it accepts) never panics, and every
/// problem it reports is a diagnostic with a span inside the text that renders.
pub(crate) fn config_load(text: &str) {
    let root = Path::new("/nonexistent-fuzz-root");
    let diags = match runner::config::parse("gates.toml", text, root) {
        Ok(config) => match runner::graph::GateGraph::build(&config) {
            Ok(_) => return,
            Err(diags) => diags,
        },
        Err(diags) => diags,
    };
    assert!(
        !diags.is_empty(),
        "a rejected config names at least one problem"
    );
    for d in &diags {
        let span = d
            .span
            .clone()
            .unwrap_or_else(|| panic!("diagnostic without a span: {}", d.message));
        assert!(
            span.start <= span.end && span.end <= text.len(),
            "span {span:?} outside the {}-byte text: {}",
            text.len(),
            d.message
        );
        let rendered = d.render(text);
        assert!(
            rendered.starts_with("gates.toml:"),
            "rendering does not start with the location: {rendered}"
        );
    }
}

/// The threshold expression and metric path parsers never panic; what they accept is sane.
pub(crate) fn threshold_expr(text: &str) {
    if let Ok(expr) = runner::config::threshold_expr::parse(text) {
        assert!(
            expr.limit.is_finite(),
            "accepted a non-finite limit: {text:?}"
        );
        let _ = expr.op.holds(expr.limit, expr.limit);
    }
    if let Ok(steps) = runner::vocab::metric_path::parse_steps(text) {
        assert!(!steps.is_empty(), "accepted an empty metric path: {text:?}");
        let doc = serde_json::json!({"a": {"b": [1, 2, {"c": 3}]}, "x": 1.5});
        let _ = runner::vocab::metric_path::lookup(&doc, &steps);
    }
}
