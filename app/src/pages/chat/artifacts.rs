//! The files of a conversation's workspace: listed with size and type, downloadable, and
//! previewed in the page for text, CSV, Markdown and images.

use chat::{client, human_size, markdown};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::task::{Artifact, ArtifactCategory};

use crate::components::{Icon, Svg};

/// Larger files are not previewed (they are downloaded).
const PREVIEW_MAX: u64 = 1024 * 1024;
const CSV_ROWS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Csv,
    Markdown,
    Image,
    None,
}

fn kind_of(a: &Artifact) -> Kind {
    let name = a.name.to_ascii_lowercase();
    let mime = a.mime_type.as_str();
    if name.ends_with(".csv") || mime == "text/csv" {
        Kind::Csv
    } else if name.ends_with(".md") || name.ends_with(".markdown") || mime == "text/markdown" {
        Kind::Markdown
    } else if mime.starts_with("image/") {
        Kind::Image
    } else if mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/toml"
                | "application/x-yaml"
        )
        || a.category == ArtifactCategory::Code
    {
        Kind::Text
    } else {
        Kind::None
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Preview {
    Loading,
    Text(String),
    Csv(Vec<Vec<String>>, bool),
    Markdown(String),
    Image(String),
    Failed(String),
}

fn parse_csv(text: &str) -> (Vec<Vec<String>>, bool) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut cut = false;
    for record in reader.records() {
        let Ok(record) = record else { break };
        if rows.len() == CSV_ROWS {
            cut = true;
            break;
        }
        rows.push(record.iter().map(str::to_owned).collect());
    }
    (rows, cut)
}

#[component]
pub fn ArtifactsPanel(
    task_id: String,
    changed: RwSignal<u32>,
    on_close: Callback<()>,
) -> impl IntoView {
    let task_id = StoredValue::new(task_id);
    let list: RwSignal<Option<Result<Vec<Artifact>, String>>> = RwSignal::new(None);
    let open: RwSignal<Option<(Artifact, Preview)>> = RwSignal::new(None);
    Effect::new(move |_| {
        changed.track();
        spawn_local(async move {
            let result = client::artifacts(&task_id.get_value()).await;
            list.try_set(Some(result.map_err(|e| e.message)));
        });
    });
    let show = move |a: Artifact| {
        let kind = kind_of(&a);
        let url = client::download_url(&task_id.get_value(), &a.path);
        if kind == Kind::Image {
            open.set(Some((a, Preview::Image(url))));
            return;
        }
        if a.size > PREVIEW_MAX {
            open.set(Some((
                a,
                Preview::Failed(
                    "This file is too large to preview here. Download it instead.".into(),
                ),
            )));
            return;
        }
        open.set(Some((a.clone(), Preview::Loading)));
        spawn_local(async move {
            let preview =
                match client::artifact_text(&task_id.get_value(), &a.path, PREVIEW_MAX).await {
                    Err(e) => Preview::Failed(e.message),
                    Ok(text) => match kind {
                        Kind::Csv => {
                            let (rows, cut) = parse_csv(&text);
                            Preview::Csv(rows, cut)
                        }
                        Kind::Markdown => Preview::Markdown(markdown::to_html(&text)),
                        _ => Preview::Text(text),
                    },
                };
            open.try_update(|o| {
                if let Some((shown, p)) = o
                    && shown.path == a.path
                {
                    *p = preview;
                }
            });
        });
    };

    view! {
        <aside class="flex h-full flex-col border-l border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900" aria-label="Files">
            <div class="flex items-center gap-2 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
                <h2 class="mr-auto text-base">"Files"</h2>
                <button class="icon-btn" type="button" aria-label="Refresh files" title="Refresh" on:click=move |_| changed.update(|n| *n += 1)><Svg icon=Icon::Refresh /></button>
                <button class="icon-btn" type="button" aria-label="Close files" title="Close" on:click=move |_| on_close.run(())><Svg icon=Icon::Close /></button>
            </div>
            <div class="min-h-0 flex-1 overflow-y-auto p-2">
                {move || match list.get() {
                    None => view! { <p class="p-2 text-sm text-zinc-500">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="alert-error" role="alert">{e}</p> }.into_any(),
                    Some(Ok(files)) if files.is_empty() => view! {
                        <p class="p-2 text-sm text-zinc-500">"No files yet. Files the agent writes, and files you attach, appear here."</p>
                    }.into_any(),
                    Some(Ok(files)) => view! {
                        <ul class="divide-y divide-zinc-200 dark:divide-zinc-800" data-testid="artifact-list">
                            {files.into_iter().map(|a| {
                                let href = client::download_url(&task_id.get_value(), &a.path);
                                let previewable = kind_of(&a) != Kind::None;
                                let path = a.path.clone();
                                let name = a.name.clone();
                                let a2 = a.clone();
                                view! {
                                    <li class="flex items-center gap-2 px-1 py-2 text-sm">
                                        <div class="min-w-0 flex-1">
                                            <p class="truncate font-medium" title=path.clone()>{path.clone()}</p>
                                            <p class="text-xs text-zinc-500">{format!("{} · {}", human_size(a.size), a.mime_type)}</p>
                                        </div>
                                        <Show when=move || previewable>
                                            <button class="icon-btn" type="button" aria-label=format!("Preview {name}") title="Preview" on:click={
                                                let a = a2.clone();
                                                move |_| show(a.clone())
                                            }><Svg icon=Icon::Preview /></button>
                                        </Show>
                                        <a class="icon-btn no-underline" href=href download=a.name.clone() aria-label=format!("Download {}", a.name) title="Download"><Svg icon=Icon::Download /></a>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
                {move || open.get().map(|(a, p)| view! {
                    <section class="mt-3 rounded-md border border-zinc-200 dark:border-zinc-800" aria-label=format!("Preview of {}", a.name)>
                        <div class="flex items-center gap-2 border-b border-zinc-200 px-2 py-1 dark:border-zinc-800">
                            <h3 class="mr-auto truncate text-sm font-semibold">{a.name.clone()}</h3>
                            <button class="icon-btn" type="button" aria-label="Close preview" on:click=move |_| open.set(None)><Svg icon=Icon::Close /></button>
                        </div>
                        <div class="max-h-[60vh] overflow-auto p-2" data-testid="artifact-preview">
                            {match p {
                                Preview::Loading => view! { <p class="text-sm text-zinc-500">"Loading…"</p> }.into_any(),
                                Preview::Failed(e) => view! { <p class="text-sm text-red-700 dark:text-red-400">{e}</p> }.into_any(),
                                Preview::Text(t) => view! { <pre class="text-xs whitespace-pre-wrap">{t}</pre> }.into_any(),
                                Preview::Markdown(html) => view! { <div class="markdown prose prose-sm prose-zinc max-w-none dark:prose-invert prose-pre:border prose-pre:border-zinc-200 prose-pre:bg-zinc-50 prose-pre:text-zinc-900 dark:prose-pre:border-zinc-800 dark:prose-pre:bg-zinc-950 dark:prose-pre:text-zinc-100" inner_html=html></div> }.into_any(),
                                Preview::Image(url) => view! { <img class="max-w-full" src=url alt=a.name.clone() /> }.into_any(),
                                Preview::Csv(rows, cut) => view! {
                                    <table class="table text-xs">
                                        <thead><tr>{rows.first().cloned().unwrap_or_default().into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}</tr></thead>
                                        <tbody>
                                            {rows.into_iter().skip(1).map(|r| view! {
                                                <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <Show when=move || cut>
                                        <p class="mt-1 text-xs text-zinc-500">{format!("The first {CSV_ROWS} rows. Download the file for all of it.")}</p>
                                    </Show>
                                }.into_any(),
                            }}
                        </div>
                    </section>
                })}
            </div>
        </aside>
    }
    .into_any()
}
