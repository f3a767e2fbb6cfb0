//! A project's MCP servers tab: what its agent can reach. Project admins paste servers (a
//! whole `{"mcpServers": {…}}` document or one server), edit, enable or disable, delete and
//! test them; members see the list, values masked.

use leptos::prelude::*;
use protocol::{McpServer, McpServerInput, McpServerState, McpTestResult, Role};

use crate::api::{
    AddMcpServer, DeleteMcpServer, EditMcpServer, PasteMcpServers, SetMcpServerEnabled,
    TestMcpServer, get_mcp_servers,
};
use crate::components::{FieldError, FormError, LoadError, Loading};
use crate::error::ServerError;
use crate::pages::mcp_form::AddServerForm;
use crate::pages::projects::current_project;

const EXAMPLE: &str =
    r#"{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}"#;

#[component]
pub fn McpTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let is_admin = move || project.get().is_some_and(|p| p.role == Role::Admin);
    let paste = ServerAction::<PasteMcpServers>::new();
    let add = ServerAction::<AddMcpServer>::new();
    let by_form = RwSignal::new(true);
    let edit = ServerAction::<EditMcpServer>::new();
    let toggle = ServerAction::<SetMcpServerEnabled>::new();
    let delete = ServerAction::<DeleteMcpServer>::new();
    let test = ServerAction::<TestMcpServer>::new();
    let servers = Resource::new(
        move || {
            (
                project_id.get(),
                paste.version().get(),
                add.version().get(),
                edit.version().get(),
                toggle.version().get(),
                delete.version().get(),
                test.version().get(),
            )
        },
        |(id, ..)| get_mcp_servers(id),
    );
    let pasted = Signal::derive(move || paste.value().get());
    let edited = Signal::derive(move || edit.value().get());
    let changed = Signal::derive(move || toggle.value().get().map(|r| r.map(|_| ())));
    let deleted = Signal::derive(move || delete.value().get());
    let tested = Signal::derive(move || test.value().get());
    view! {
        <section class="card mb-6" aria-labelledby="mcp-title">
            <h2 id="mcp-title" class="mb-1 font-semibold">"MCP servers"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "The systems this project's agent can reach. Their tools are offered to every task as mcp__<server>__<tool>. Local (command) servers run inside the task's sandbox; write {{mcp.KEY}} where a task's env or secrets should go."
            </p>
            {move || is_admin().then(|| view! {
                <div class="mb-3 flex gap-2" role="group" aria-label="How to add a server">
                    <button class="btn" type="button" aria-pressed=move || by_form.get().to_string()
                        on:click=move |_| by_form.set(true)>"Fill in a form"</button>
                    <button class="btn" type="button" aria-pressed=move || (!by_form.get()).to_string()
                        on:click=move |_| by_form.set(false)>"Paste JSON"</button>
                </div>
            })}
            {move || (is_admin() && by_form.get()).then(|| view! {
                <AddServerForm project_id action=add />
            })}
            {move || (is_admin() && !by_form.get()).then(|| view! {
                <ActionForm action=paste>
                    <input type="hidden" name="project_id" value=move || project_id.get() />
                    <label class="label" for="mcp-json">"Add servers: paste JSON"</label>
                    <textarea class="input font-mono text-sm" id="mcp-json" name="json" rows="6" required
                        aria-describedby="mcp-json-help" placeholder=EXAMPLE></textarea>
                    <p id="mcp-json-help" class="mt-1 text-xs text-slate-500">
                        "A {\"mcpServers\": {…}} document as Claude Desktop, Cursor or VS Code write it, or one server: {\"name\", \"type\": \"http\" | \"sse\" | \"stdio\", \"url\" or \"command\", …}. Servers of the same name are replaced."
                    </p>
                    <FieldError result=Signal::derive(move || pasted.get().map(|r| r.map(|_| ()))) field="json" />
                    <button class="btn btn-primary mt-3" type="submit">"Add"</button>
                </ActionForm>
            })}
            <FormError result=Signal::derive(move || pasted.get().map(|r| r.map(|_| ()))) />
            {move || matches!(pasted.get(), Some(Ok(_))).then(|| {
                let n = pasted.get().and_then(|r| r.ok()).unwrap_or(0);
                view! { <p class="mt-3 text-sm text-emerald-700 dark:text-emerald-400" role="status">{format!("Added {n}.")}</p> }
            })}
        </section>
        <FormError result=changed />
        <FormError result=deleted />
        <Transition fallback=Loading>
            {move || {
                let pid = project_id.get();
                let admin = is_admin();
                Suspend::new(async move {
                    match servers.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="card text-slate-600 dark:text-slate-400">"No MCP servers yet. Tasks have the built-in tools only."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="space-y-4" data-testid="mcp-servers">
                                {list.into_iter().map(|server| view! {
                                    <ServerCard server project_id=pid.clone() admin edit toggle delete test edited tested />
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

type Done<T> = Signal<Option<Result<T, ServerError>>>;

#[component]
fn ServerCard(
    server: McpServer,
    project_id: String,
    admin: bool,
    edit: ServerAction<EditMcpServer>,
    toggle: ServerAction<SetMcpServerEnabled>,
    delete: ServerAction<DeleteMcpServer>,
    test: ServerAction<TestMcpServer>,
    edited: Done<McpServer>,
    tested: Done<(String, McpTestResult)>,
) -> impl IntoView {
    let name = server.name.clone();
    let server_name = server.name.clone();
    let editing = RwSignal::new(false);
    let json =
        serde_json::to_string_pretty(&McpServerInput::from(server.clone())).unwrap_or_default();
    let target = match (&server.url, &server.command) {
        (Some(url), _) => url.clone(),
        (None, Some(cmd)) => std::iter::once(cmd.clone())
            .chain(server.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let status = match &server.status {
        None => ("Not tested yet".to_owned(), "text-slate-500"),
        Some(s) if s.state == McpServerState::Ok => (
            format!("Connected · {} tools", s.tool_count.unwrap_or(0)),
            "text-emerald-700 dark:text-emerald-400",
        ),
        Some(s) => (
            format!("Failed: {}", s.message.clone().unwrap_or_default()),
            "text-red-700 dark:text-red-400",
        ),
    };
    // When a run or a test last connected: "2026-12-07T05:37:02.123Z" as "2026-12-07 05:37 UTC".
    let checked = server.status.as_ref().map(|s| {
        let minute = s.checked_at.get(..16).unwrap_or(&s.checked_at);
        format!("Last connected {} UTC", minute.replace('T', " "))
    });
    let testing_this = {
        let name = name.clone();
        move || test.pending().get() && test.input().get().is_some_and(|i| i.name == name)
    };
    let result = {
        let name = name.clone();
        move || {
            tested
                .get()
                .and_then(|r| r.ok())
                .filter(|(n, _)| *n == name)
                .map(|(_, r)| r)
        }
    };
    let (pid, n) = (project_id.clone(), name.clone());
    let on_test = move |_| {
        test.dispatch(TestMcpServer {
            project_id: pid.clone(),
            name: n.clone(),
        });
    };
    let (pid, n, enabled) = (project_id.clone(), name.clone(), server.enabled);
    let on_toggle = move |_| {
        toggle.dispatch(SetMcpServerEnabled {
            project_id: pid.clone(),
            name: n.clone(),
            enabled: !enabled,
        });
    };
    let (pid, n) = (project_id.clone(), name.clone());
    let on_delete = move |_| {
        delete.dispatch(DeleteMcpServer {
            project_id: pid.clone(),
            name: n.clone(),
        });
    };
    view! {
        <li class="card" data-testid=format!("mcp-server-{name}")>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h3 class="font-semibold">
                    {name.clone()}
                    <span class="ml-2 rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs dark:bg-slate-800">{server.kind.as_str()}</span>
                    {(!server.enabled).then(|| view! { <span class="ml-2 text-xs text-slate-500">"disabled"</span> })}
                </h3>
                <p class=format!("text-sm {}", status.1) data-testid="mcp-status" title=checked>{status.0}</p>
            </div>
            <p class="mt-1 break-all font-mono text-xs text-slate-600 dark:text-slate-400">{target}</p>
            <div class="mt-3 flex flex-wrap gap-2">
                {admin.then(|| view! {
                    <button class="btn" type="button" on:click=on_test disabled=testing_this.clone()>
                        {let t = testing_this.clone(); move || if t() { "Testing…" } else { "Test connection" }}
                    </button>
                    <button class="btn" type="button" on:click=on_toggle>{if enabled { "Disable" } else { "Enable" }}</button>
                    <button class="btn" type="button" on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                    <button class="btn btn-danger" type="button" aria-label=format!("Delete {name}") on:click=on_delete>"Delete"</button>
                })}
            </div>
            {move || {
                let (pid, sname, json) = (project_id.clone(), server_name.clone(), json.clone());
                editing.get().then(move || view! {
                    <ActionForm action=edit attr:class="mt-3">
                        <input type="hidden" name="project_id" value=pid />
                        <input type="hidden" name="name" value=sname.clone() />
                        <label class="label" for=format!("mcp-edit-{sname}")>"Configuration"</label>
                        <textarea class="input font-mono text-sm" id=format!("mcp-edit-{sname}") name="json" rows="10">{json}</textarea>
                        <FieldError result=Signal::derive(move || edited.get().map(|r| r.map(|_| ()))) field="json" />
                        <FormError result=Signal::derive(move || edited.get().map(|r| r.map(|_| ()))) />
                        <button class="btn btn-primary mt-2" type="submit">"Save"</button>
                    </ActionForm>
                })
            }}
            {move || result().map(|r| view! { <TestResult result=r /> })}
        </li>
    }
}

#[component]
fn TestResult(result: McpTestResult) -> impl IntoView {
    if !result.ok {
        return view! {
            <p class="mt-3 rounded-md border border-red-300 bg-red-50 p-3 text-sm dark:border-red-800 dark:bg-red-950" role="alert" data-testid="mcp-test-error">
                {result.error.unwrap_or_default()}
            </p>
        }
        .into_any();
    }
    let summary = format!(
        "{} · {} tools in {} ms",
        result.server_info.unwrap_or_else(|| "Connected".to_owned()),
        result.tools.len(),
        result.elapsed_ms
    );
    view! {
        <div class="mt-3 rounded-md border border-emerald-300 p-3 dark:border-emerald-800" role="status" data-testid="mcp-test-result">
            <p class="mb-2 text-sm font-medium">{summary}</p>
            <ul class="space-y-1 text-sm">
                {result.tools.into_iter().map(|t| view! {
                    <li class=if t.included { "" } else { "opacity-60" }>
                        <code class="font-mono">{t.name}</code>
                        {(!t.included).then_some(" (filtered out)")}
                        <span class="text-slate-600 dark:text-slate-400">{t.description.map(|d| format!(" — {d}")).unwrap_or_default()}</span>
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}
