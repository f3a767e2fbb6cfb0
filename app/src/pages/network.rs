//! A project's network tab: what its tasks' programs and `web_fetch` may reach.

use leptos::prelude::*;
use protocol::{NetworkMode, Role};

use crate::api::{SetNetworkPolicy, get_project_settings};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::pages::projects::current_project;

const MODES: [(NetworkMode, &str, &str, &str); 3] = [
    (
        NetworkMode::Internet,
        "internet",
        "Internet",
        "Any public host. Never this server, its private network, or cloud metadata.",
    ),
    (
        NetworkMode::AllowList,
        "allowList",
        "Only these domains",
        "The hosts listed below, and nothing else.",
    ),
    (
        NetworkMode::Off,
        "off",
        "Off",
        "No network at all; web tools are not offered.",
    ),
];

#[component]
pub fn NetworkTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let save = ServerAction::<SetNetworkPolicy>::new();
    let settings = Resource::new(
        move || (project_id.get(), save.version().get()),
        |(id, _)| get_project_settings(id),
    );
    let saved = Signal::derive(move || save.value().get());
    view! {
        <Transition fallback=Loading>
            {move || {
                let pid = project_id.get();
                let admin = is_admin();
                Suspend::new(async move {
                    match settings.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(s) => {
                            let domains = s.network.allowed_domains.join("\n");
                            view! {
                                <section class="card" aria-labelledby="network-title">
                                    <h2 id="network-title" class="mb-1 font-semibold">"Network"</h2>
                                    <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                                        "What this project's tasks reach: every program in their sandboxes, and web_fetch."
                                    </p>
                                    <ActionForm action=save>
                                        <input type="hidden" name="project_id" value=pid />
                                        <fieldset disabled=!admin class="space-y-3">
                                            <legend class="sr-only">"Network access"</legend>
                                            {MODES.into_iter().map(|(mode, value, label, help)| {
                                                let id = format!("network-{value}");
                                                view! {
                                                    <div class="flex items-start gap-2">
                                                        <input type="radio" name="mode" id=id.clone() value=value checked=s.network.mode == mode />
                                                        <label for=id>
                                                            <span class="font-medium">{label}</span>
                                                            <span class="block text-sm text-slate-600 dark:text-slate-400">{help}</span>
                                                        </label>
                                                    </div>
                                                }
                                            }).collect_view()}
                                            <FieldError result=saved field="mode" />
                                            <div>
                                                <label class="label" for="network-domains">"Allowed domains"</label>
                                                <textarea class="input font-mono" id="network-domains" name="domains" rows="5"
                                                    aria-describedby="network-domains-help" placeholder="pypi.org\n*.githubusercontent.com">{domains}</textarea>
                                                <p id="network-domains-help" class="mt-1 text-xs text-slate-500">
                                                    "One per line. example.com is that host; *.example.com its subdomains. Used when \"Only these domains\" is chosen."
                                                </p>
                                                <FieldError result=saved field="domains" />
                                            </div>
                                            {admin.then(|| view! { <button class="btn btn-primary" type="submit">"Save"</button> })}
                                        </fieldset>
                                    </ActionForm>
                                    {(!admin).then(|| view! {
                                        <p class="mt-3 text-sm text-slate-500">"Only project admins can change this."</p>
                                    })}
                                    <FormError result=saved />
                                    {move || matches!(saved.get(), Some(Ok(_))).then(|| view! {
                                        <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">"Saved."</p>
                                    })}
                                </section>
                            }.into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}
