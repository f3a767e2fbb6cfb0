//! A project's subagents tab: the built-in helpers its agent can hand an objective to, and
//! which of them it offers. Project admins switch them on and off; members read the list.

use leptos::prelude::*;
use protocol::Role;

use crate::api::{SetSubagent, get_subagents};
use crate::components::{FormError, LoadError, Loading};
use crate::pages::projects::current_project;

#[component]
pub fn SubagentsTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let set = ServerAction::<SetSubagent>::new();
    let list = Resource::new(
        move || (project_id.get(), set.version().get()),
        |(id, _)| get_subagents(id),
    );
    view! {
        <section class="card" aria-labelledby="subagents-title">
            <h2 id="subagents-title" class="mb-1 font-semibold">"Subagents"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Built-in helpers this project's agent can hand an objective to. Each works with its own tools and limits, under the project's tool policy, and answers the agent when done. Switched-off subagents are not offered."
            </p>
            <FormError result=Signal::derive(move || set.value().get().map(|r| r.map(|_| ()))) />
            <Transition fallback=Loading>
                {move || {
                    let pid = project_id.get();
                    let admin = is_admin();
                    Suspend::new(async move {
                        match list.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"This server has no built-in subagents."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <table class="table" data-testid="subagents">
                                    <thead><tr>
                                        <th scope="col">"Subagent"</th>
                                        <th scope="col">"What it does"</th>
                                        <th scope="col">"Tools"</th>
                                        <th scope="col">"Limits"</th>
                                        <th scope="col">"Offered"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|s| {
                                            let (pid, name) = (pid.clone(), s.name.clone());
                                            let id = format!("subagent-{}", s.name);
                                            view! {
                                                <tr data-testid=format!("subagent-{}", s.name)>
                                                    <td>
                                                        <label class="font-medium" for=id.clone()>{s.display_name.clone()}</label>
                                                        <span class="block font-mono text-xs text-slate-500">{s.name.clone()}</span>
                                                    </td>
                                                    <td class="text-sm">{s.description.clone()}</td>
                                                    <td class="font-mono text-xs">{s.tools.join(", ")}</td>
                                                    <td class="whitespace-nowrap text-sm">
                                                        {format!("{} model calls", s.max_turns)}<br />
                                                        {format!("{} min", s.max_minutes)}
                                                    </td>
                                                    <td>
                                                        <input type="checkbox" id=id checked=s.enabled disabled=!admin
                                                            on:change=move |ev| {
                                                                set.dispatch(SetSubagent {
                                                                    project_id: pid.clone(),
                                                                    name: name.clone(),
                                                                    enabled: event_target_checked(&ev),
                                                                });
                                                            } />
                                                        <span class="ml-1 text-xs text-slate-500">{if s.enabled { "on" } else { "off" }}</span>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || (!is_admin()).then(|| view! {
                <p class="mt-3 text-sm text-slate-500">"Only project admins can switch subagents on and off."</p>
            })}
        </section>
    }
}
