//! `sigmic bench policy`: what deciding a tool call costs with a project of many rules: 200 by
//! default, a mix of exact names and globs, a third with CEL conditions (comparisons, string
//! functions, `size`), checked against calls that match many of them, some and none.

use std::time::Instant;

use serde_json::json;

use super::Series;
use crate::policy::{Decision, PolicyMode, PolicySet, Rule};

fn rules(count: usize) -> Result<Vec<Rule>, String> {
    (0..count)
        .map(|i| {
            let decision = [Decision::Allow, Decision::Ask, Decision::Deny][i % 3];
            let (tool, condition) = match i % 6 {
                0 => (format!("mcp__svc{}__*", i % 20), None),
                1 => (
                    format!("mcp__svc{}__refund*", i % 20),
                    Some(format!("args.amount > {i}")),
                ),
                2 => (
                    "mcp__*__send_email".to_owned(),
                    Some(format!("args.to.endsWith('@domain{i}.com')")),
                ),
                3 => (format!("tool_{i}"), None),
                4 => (
                    "write_file".to_owned(),
                    Some(format!("size(args.items) > {}", i % 7)),
                ),
                _ => (format!("mcp__svc{}__get_*", i % 20), None),
            };
            Rule::new(format!("r{i}"), &tool, decision, condition.as_deref())
                .map_err(|e| format!("rule {i}: {e}"))
        })
        .collect()
}

pub fn policy(runs: usize, count: usize) -> Result<(), String> {
    let started = Instant::now();
    let set = PolicySet::new(rules(count)?, PolicyMode::AskWrites);
    let compiled = started.elapsed();
    let args = json!({"amount": 120, "to": "ops@domain7.com", "items": [1, 2, 3, 4]});
    let calls = [
        (
            "refund (glob + condition rules match)",
            "mcp__svc3__refund_order",
        ),
        (
            "send_email (a condition on every server)",
            "mcp__crm__send_email",
        ),
        ("write_file (conditions with size())", "write_file"),
        ("read_file (no rule matches: the mode)", "read_file"),
    ];
    let mut series: Vec<Series> = calls.iter().map(|(name, _)| Series::new(name)).collect();
    let mut all = Series::new("every call above");
    for _ in 0..runs {
        for ((_, tool), s) in calls.iter().zip(series.iter_mut()) {
            let t = Instant::now();
            let found = set.evaluate(tool, &args, false);
            let took = t.elapsed();
            std::hint::black_box(found);
            s.samples.push(took);
            all.samples.push(took);
        }
    }
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
    println!("Tool policy benchmark: {count} rules, {runs} runs per call");
    println!(
        "compiling the {count} rules: {:.2} ms",
        us(compiled) / 1000.0
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "deciding one call", "p50 µs", "p99 µs"
    );
    for s in series.iter().chain(std::iter::once(&all)) {
        println!(
            "{:<44} {:>10.1} {:>10.1}",
            s.name,
            us(s.pct(50.0)),
            us(s.pct(99.0))
        );
    }
    Ok(())
}
