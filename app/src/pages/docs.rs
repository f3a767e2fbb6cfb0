//! `/api/docs`: the OpenAPI document, readable without any outside script.

use leptos::prelude::*;
use leptos_meta::Title;
use serde_json::Value;

use crate::api::get_openapi;
use crate::components::{LoadError, Loading};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let doc = Resource::new(|| (), |_| get_openapi());
    view! {
        <Title text="API reference" />
        <main class="mx-auto max-w-4xl px-4 py-10">
            <a href="/" class="text-sm hover:underline">"← Sigmic"</a>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match doc.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(json) => match serde_json::from_str::<Value>(&json) {
                            Ok(v) => view! { <Reference doc=v /> }.into_any(),
                            Err(_) => view! { <p>"The API document could not be read."</p> }.into_any(),
                        },
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn Reference(doc: Value) -> impl IntoView {
    let title = doc["info"]["title"].as_str().unwrap_or("API").to_owned();
    let version = doc["info"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let description = doc["info"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut operations = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    operations.push((path.clone(), method, op.clone()));
                }
            }
        }
    }
    view! {
        <h1 class="mb-1 mt-4 text-3xl font-semibold">{title}</h1>
        <p class="mb-2 text-sm text-slate-500">{format!("version {version} · ")} <a class="link" href="/api/v1/openapi.json">"openapi.json"</a></p>
        <p class="mb-8 text-slate-700 dark:text-slate-300">{description}</p>
        <div class="space-y-4">
            {operations.into_iter().map(|(path, method, op)| view! { <Operation path method op /> }).collect_view()}
        </div>
    }
}

#[component]
fn Operation(path: String, method: &'static str, op: Value) -> impl IntoView {
    let summary = op["summary"].as_str().unwrap_or_default().to_owned();
    let description = op["description"].as_str().unwrap_or_default().to_owned();
    let params: Vec<(String, String)> = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["description"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned());
    let responses: Vec<(String, String)> = op["responses"]
        .as_object()
        .map(|rs| {
            rs.iter()
                .map(|(code, r)| {
                    (
                        code.clone(),
                        r["description"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let anchor = format!("{method}-{}", path.replace(['/', '{', '}'], "-"));
    view! {
        <article class="card" id=anchor>
            <h2 class="flex flex-wrap items-baseline gap-3 font-mono text-sm">
                <span class="badge uppercase">{method}</span>
                <span class="font-semibold">{path}</span>
            </h2>
            <p class="mt-2 font-medium">{summary}</p>
            {(!description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{description}</p> })}
            {(!params.is_empty()).then(|| view! {
                <h3 class="mt-3 text-xs font-semibold uppercase text-slate-500">"Parameters"</h3>
                <ul class="text-sm">{params.into_iter().map(|(n, d)| view! { <li><code>{n}</code> " — " {d}</li> }).collect_view()}</ul>
            })}
            {body.map(|b| view! { <p class="mt-3 text-sm"><span class="text-xs font-semibold uppercase text-slate-500">"Body "</span><code>{b}</code></p> })}
            <h3 class="mt-3 text-xs font-semibold uppercase text-slate-500">"Responses"</h3>
            <ul class="text-sm">{responses.into_iter().map(|(c, d)| view! { <li><code>{c}</code> " — " {d}</li> }).collect_view()}</ul>
        </article>
    }
}
