//! Adding one MCP server by filling in its fields, for people who have no JSON to paste.

use leptos::prelude::*;

use crate::api::AddMcpServer;
use crate::components::{FieldError, FormError};

#[component]
pub fn AddServerForm(
    #[prop(into)] project_id: Signal<String>,
    action: ServerAction<AddMcpServer>,
) -> impl IntoView {
    let kind = RwSignal::new("http".to_owned());
    let remote = move || kind.get() != "stdio";
    let result = Signal::derive(move || action.value().get().map(|r| r.map(|_| ())));
    // An input with its label and the server's message for it, shown for one kind of server.
    let field = move |id: &'static str, label: &'static str, input: AnyView, help: &'static str| {
        view! {
            <div>
                <label class="label" for=format!("mcp-form-{id}")>{label}</label>
                {input}
                {(!help.is_empty()).then(|| view! { <p class="mt-1 text-xs text-slate-500">{help}</p> })}
                <FieldError result field=id />
            </div>
        }
    };
    view! {
        <ActionForm action attr:class="grid gap-3 sm:grid-cols-2" attr:data-testid="mcp-add-form">
            <input type="hidden" name="project_id" value=move || project_id.get() />
            {field("name", "Name", view! {
                <input class="input" id="mcp-form-name" name="name" required maxlength="40"
                    pattern="[A-Za-z0-9_-]+" placeholder="orders" />
            }.into_any(), "Letters, digits, - and _. Tools are offered as mcp__<name>__<tool>.")}
            {field("kind", "Type", view! {
                <select class="input" id="mcp-form-kind" name="kind"
                    on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="http">"Remote: Streamable HTTP"</option>
                    <option value="sse">"Remote: HTTP + SSE (legacy)"</option>
                    <option value="stdio">"Local: a command in the task's sandbox"</option>
                </select>
            }.into_any(), "")}
            // Every input is always sent (the server reads the ones of the chosen type), so
            // the other type's inputs are hidden, not removed.
            <div class=move || if remote() { "contents" } else { "hidden" }>
                {field("url", "URL", view! {
                    <input class="input" id="mcp-form-url" name="url" type="url"
                        placeholder="https://mcp.example.com/mcp" required=remote />
                }.into_any(), "")}
                {field("timeout", "Timeout (ms)", view! {
                    <input class="input" id="mcp-form-timeout" name="timeout" inputmode="numeric" placeholder="30000" />
                }.into_any(), "")}
                <div class="sm:col-span-2">
                    {field("headers", "Headers", view! {
                        <textarea class="input font-mono text-sm" id="mcp-form-headers" name="headers" rows="2"
                            placeholder="Authorization: Bearer {{mcp.ORDERS_TOKEN}}"></textarea>
                    }.into_any(), "One Name: value per line. Stored encrypted; {{mcp.KEY}} is filled from a task's env or secrets.")}
                </div>
            </div>
            <div class=move || if remote() { "hidden" } else { "contents" }>
                {field("command", "Command", view! {
                    <input class="input font-mono" id="mcp-form-command" name="command"
                        placeholder="mcp-server-time" required=move || !remote() />
                }.into_any(), "")}
                {field("cwd", "Working directory", view! {
                    <input class="input font-mono" id="mcp-form-cwd" name="cwd" placeholder="relative to the workspace" />
                }.into_any(), "")}
                {field("args", "Arguments", view! {
                    <textarea class="input font-mono text-sm" id="mcp-form-args" name="args" rows="2"
                        placeholder="--local-timezone=UTC"></textarea>
                }.into_any(), "One per line.")}
                {field("env", "Environment", view! {
                    <textarea class="input font-mono text-sm" id="mcp-form-env" name="env" rows="2"
                        placeholder="API_KEY={{mcp.API_KEY}}"></textarea>
                }.into_any(), "One KEY=value per line. Stored encrypted.")}
            </div>
            {field("include_tools", "Only these tools", view! {
                <input class="input font-mono" id="mcp-form-include_tools" name="include_tools" placeholder="list_*, get_order" />
            }.into_any(), "Names or globs, comma-separated; all when empty.")}
            {field("exclude_tools", "Never these tools", view! {
                <input class="input font-mono" id="mcp-form-exclude_tools" name="exclude_tools" placeholder="delete_*" />
            }.into_any(), "")}
            <div class="sm:col-span-2">
                <FormError result />
                {move || matches!(action.value().get(), Some(Ok(_))).then(|| view! {
                    <p class="mb-2 text-sm text-emerald-700 dark:text-emerald-400" role="status">"Added. Test its connection below."</p>
                })}
                <button class="btn btn-primary" type="submit">"Add server"</button>
            </div>
        </ActionForm>
    }
}
