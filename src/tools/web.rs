//! `web_fetch` and `web_search`.

use std::fmt::Write as _;

use serde_json::json;

use super::args::{self, non_empty};
use super::{Builtin, ToolContext, ToolResult};

pub async fn fetch(ctx: &ToolContext, a: args::WebFetch) -> Result<ToolResult, String> {
    non_empty(Builtin::WebFetch, "url", &a.url)?;
    let page = ctx
        .web
        .fetcher
        .fetch(&a.url, &ctx.network)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Content of {} (HTTP {}{}):",
        page.url,
        page.status,
        page.content_type
            .as_deref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default()
    );
    if let Some(prompt) = a.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
        // No model runs inside the tool: the page comes back whole and the caller applies
        // its own prompt to it.
        let _ = writeln!(out, "[Your prompt: {prompt}]");
    }
    out.push('\n');
    out.push_str(&page.text);
    if page.truncated {
        let _ = write!(out, "\n\n[The page was cut at the size limit.]");
    }
    Ok(ToolResult::success(
        out,
        json!({
            "url": page.url,
            "status": page.status,
            "contentType": page.content_type,
            "prompt": a.prompt,
            "bytes": page.bytes,
            "truncated": page.truncated,
            "text": page.text,
        }),
    ))
}

pub async fn search(ctx: &ToolContext, a: args::WebSearch) -> Result<ToolResult, String> {
    non_empty(Builtin::WebSearch, "query", &a.query)?;
    let searcher = ctx.web.searcher.as_ref().ok_or_else(|| {
        "web_search is not available: no search backend is configured.".to_owned()
    })?;
    let results = searcher.search(&a.query).await.map_err(|e| e.to_string())?;
    let mut out = String::new();
    if results.is_empty() {
        let _ = write!(out, "No results for \"{}\".", a.query);
    } else {
        let _ = writeln!(out, "Results for \"{}\":", a.query);
        for (i, r) in results.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. {}\n   {}\n   {}",
                i + 1,
                r.title,
                r.url,
                r.snippet
            );
        }
    }
    Ok(ToolResult::success(
        out,
        json!({"query": a.query, "results": results}),
    ))
}
