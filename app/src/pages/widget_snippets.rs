//! What a widget app's owner copies into their own site: the two script tags (with the app's
//! look) and the backend call that mints a visitor's token, in curl, Node and Python. The
//! secret is never in them: the backend reads it from its environment.

use leptos::prelude::*;
use protocol::widget::{LauncherPosition, WidgetApp, WidgetLook, WidgetTheme};

/// The path the snippets' backend serves tokens on; `getToken` in the script tags calls it.
const TOKEN_ROUTE: &str = "/sigmic-token";

/// A JSON string literal, which is also a JavaScript and Python one. `<` is escaped so that a
/// title like `</script>` cannot end the inline script it is pasted into.
fn literal(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| String::from("\"\""))
        .replace('<', "\\u003c")
}

pub fn theme_value(theme: WidgetTheme) -> &'static str {
    match theme {
        WidgetTheme::Light => "light",
        WidgetTheme::Dark => "dark",
        WidgetTheme::Auto => "auto",
    }
}

pub fn position_value(position: LauncherPosition) -> &'static str {
    match position {
        LauncherPosition::BottomRight => "bottom-right",
        LauncherPosition::BottomLeft => "bottom-left",
    }
}

/// The look's entries of `window.sigmicSettings`, one `key: value,` line each.
fn look_lines(look: &WidgetLook, indent: &str) -> String {
    let suggestions = look
        .suggestions
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ");
    [
        format!("title: {},", literal(&look.title)),
        format!("greeting: {},", literal(&look.greeting)),
        format!("accentColor: {},", literal(&look.accent_color)),
        format!("theme: {},", literal(theme_value(look.theme))),
        format!("position: {},", literal(position_value(look.position))),
        format!("suggestions: [{suggestions}],"),
    ]
    .iter()
    .map(|line| format!("{indent}{line}\n"))
    .collect()
}

/// The two tags for the customer's page. The token is minted per visitor by their backend
/// (the snippets below) and written into the page; `getToken` fetches the next one.
pub fn script_tags(server: &str, app: &WidgetApp) -> String {
    format!(
        "<script>\n  window.sigmicSettings = {{\n    \
         // Minted for this visitor by your backend (see \"Your backend\"); never the app secret.\n    \
         token: \"TOKEN_FROM_YOUR_BACKEND\",\n    \
         apiUrl: {api},\n    \
         // Called for a fresh token when one expires.\n    \
         getToken: () =>\n      \
         fetch(\"{TOKEN_ROUTE}\", {{ method: \"POST\", credentials: \"same-origin\" }})\n        \
         .then((r) => r.json())\n        \
         .then((d) => d.token),\n\
         {look}  }};\n</script>\n\
         <script src={src} async></script>",
        api = literal(server),
        look = look_lines(&app.look, "    "),
        src = literal(&format!("{server}/widget.js")),
    )
}

pub fn curl_snippet(server: &str, app: &WidgetApp) -> String {
    format!(
        "# SIGMIC_APP_SECRET is the app secret, kept in your backend's environment.\n\
         curl -sS -X POST {url} \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"appId\": {id}, \"appSecret\": \"'\"$SIGMIC_APP_SECRET\"'\", \"endUserId\": \"user-123\", \"expiresIn\": \"1h\"}}'\n\
         # → {{\"token\": \"eyJ…\", \"expiresAt\": \"…\"}}",
        url = shell_word(&format!("{server}/api/v1/auth/token")),
        id = serde_json::to_string(&app.app_id).unwrap_or_default(),
    )
}

/// A URL as one shell word (single quotes, each `'` closed and escaped).
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

pub fn node_snippet(server: &str, app: &WidgetApp) -> String {
    format!(
        "// Express: mint a token for the signed-in visitor. The secret stays on the server.\n\
         app.post(\"{TOKEN_ROUTE}\", async (req, res) => {{\n  \
         const r = await fetch({url}, {{\n    \
         method: \"POST\",\n    \
         headers: {{ \"Content-Type\": \"application/json\" }},\n    \
         body: JSON.stringify({{\n      \
         appId: {id},\n      \
         appSecret: process.env.SIGMIC_APP_SECRET,\n      \
         endUserId: req.user.id, // your own id for this visitor\n      \
         expiresIn: \"1h\",\n    \
         }}),\n  \
         }});\n  \
         if (!r.ok) return res.status(502).json({{ error: \"token exchange failed\" }});\n  \
         const {{ token }} = await r.json();\n  \
         res.json({{ token }});\n\
         }});",
        url = literal(&format!("{server}/api/v1/auth/token")),
        id = literal(&app.app_id),
    )
}

pub fn python_snippet(server: &str, app: &WidgetApp) -> String {
    format!(
        "# Flask: mint a token for the signed-in visitor. The secret stays on the server.\n\
         import os\n\n\
         import requests\n\
         from flask import jsonify\n\n\n\
         @app.post(\"{TOKEN_ROUTE}\")\n\
         def sigmic_token():\n    \
         r = requests.post(\n        \
         {url},\n        \
         json={{\n            \
         \"appId\": {id},\n            \
         \"appSecret\": os.environ[\"SIGMIC_APP_SECRET\"],\n            \
         \"endUserId\": current_user.id,  # your own id for this visitor\n            \
         \"expiresIn\": \"1h\",\n        \
         }},\n        \
         timeout=10,\n    \
         )\n    \
         r.raise_for_status()\n    \
         return jsonify(token=r.json()[\"token\"])",
        url = literal(&format!("{server}/api/v1/auth/token")),
        id = literal(&app.app_id),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Curl,
    Node,
    Python,
}

impl Backend {
    const ALL: [Self; 3] = [Self::Curl, Self::Node, Self::Python];

    fn label(self) -> &'static str {
        match self {
            Self::Curl => "curl",
            Self::Node => "Node",
            Self::Python => "Python",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Curl => "curl",
            Self::Node => "node",
            Self::Python => "python",
        }
    }

    fn snippet(self, server: &str, app: &WidgetApp) -> String {
        match self {
            Self::Curl => curl_snippet(server, app),
            Self::Node => node_snippet(server, app),
            Self::Python => python_snippet(server, app),
        }
    }
}

/// An app's snippets, drawn for `server` (the address the Console is open at, once known).
#[component]
pub fn Snippets(app: WidgetApp, #[prop(into)] server: Signal<String>) -> impl IntoView {
    let app = StoredValue::new(app);
    let id = app.with_value(|a| a.app_id.clone());
    let chosen = RwSignal::new(Backend::Curl);
    let tags = Signal::derive(move || app.with_value(|a| script_tags(&server.get(), a)));
    view! {
        <div class="mt-4">
            <h4 class="text-sm font-medium">"On your page"</h4>
            <p class="mb-2 text-xs text-slate-500">
                "Paste both tags before </body> on a page whose origin is allowed above. The look can be changed here or overridden in the settings."
            </p>
            <CopyBlock text=tags testid="widget-script-tags" what="the script tags" />
        </div>
        <div class="mt-4">
            <h4 class="text-sm font-medium">"Your backend"</h4>
            <p class="mb-2 text-xs text-slate-500">
                "Exchanges the app secret (from an environment variable, never the page) for a visitor's token and hands the page only the token."
            </p>
            <div class="mb-2 flex gap-1" role="tablist" aria-label="Backend language">
                {Backend::ALL.map(|b| {
                    let tab = format!("widget-{id}-tab-{}", b.key());
                    let panel = format!("widget-{id}-panel-{}", b.key());
                    view! {
                        <button class="tab" type="button" role="tab" id=tab aria-controls=panel
                            aria-selected=move || (chosen.get() == b).to_string()
                            class:tab-active=move || chosen.get() == b
                            on:click=move |_| chosen.set(b)>{b.label()}</button>
                    }
                })}
            </div>
            {Backend::ALL.map(|b| {
                let text = Signal::derive(move || app.with_value(|a| b.snippet(&server.get(), a)));
                view! {
                    <div role="tabpanel" id=format!("widget-{id}-panel-{}", b.key())
                        aria-labelledby=format!("widget-{id}-tab-{}", b.key())
                        hidden=move || chosen.get() != b>
                        <CopyBlock text testid=format!("widget-backend-{}", b.key())
                            what=format!("the {} snippet", b.label()) />
                    </div>
                }
            })}
        </div>
    }
    .into_any()
}

/// A `<pre>` and the button that puts its text on the clipboard.
#[component]
pub fn CopyBlock(
    text: Signal<String>,
    #[prop(into)] testid: String,
    #[prop(into)] what: String,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <div class="relative">
            <pre class="max-h-80 overflow-auto rounded bg-slate-100 p-3 pr-20 text-xs dark:bg-slate-900"
                data-testid=testid><code>{move || text.get()}</code></pre>
            <button class="btn absolute right-2 top-2 text-xs" type="button" aria-label=format!("Copy {what}")
                on:click=move |_| {
                    copy(&text.get_untracked());
                    copied.set(true);
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
        </div>
    }
    .into_any()
}

/// Puts the text on the clipboard (buttons are only clicked in the browser).
pub fn copy(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> WidgetApp {
        WidgetApp {
            app_id: "wa_1".into(),
            project_id: "p".into(),
            name: "Shop".into(),
            allowed_origins: vec![],
            look: WidgetLook {
                title: "</script><b>".into(),
                suggestions: vec!["Where is my order?".into()],
                ..WidgetLook::default()
            },
            previous_secret_expires_at: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn tags_carry_the_look_and_cannot_be_closed_by_it() {
        let tags = script_tags("https://ai.example.com", &app());
        assert!(tags.contains(r#"apiUrl: "https://ai.example.com","#));
        assert!(tags.contains(r#"<script src="https://ai.example.com/widget.js" async>"#));
        assert!(tags.contains(r#"suggestions: ["Where is my order?"],"#));
        assert_eq!(tags.matches("</script>").count(), 2);
    }

    #[test]
    fn backend_snippets_never_hold_a_secret() {
        for s in [
            curl_snippet("https://x", &app()),
            node_snippet("https://x", &app()),
            python_snippet("https://x", &app()),
        ] {
            assert!(s.contains("https://x/api/v1/auth/token"));
            assert!(s.contains("SIGMIC_APP_SECRET"));
            assert!(s.contains("wa_1"));
        }
    }
}
