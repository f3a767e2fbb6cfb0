//! The widget's state, shared by its views through context: the client, the look, whether
//! the panel is open and what it shows, and the conversation in it.

use chat::client::Client;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::error::{ApiError, ErrorCode};
use protocol::widget::{LauncherPosition, WidgetLook, WidgetSession};
use wasm_bindgen::JsValue;

use crate::conversation::Conversation;
use crate::page::{self, Emitter};
use crate::settings::{LookOverrides, is_hex_color, on_accent};

/// What the panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Chat,
    History,
    Files,
}

/// Why the widget cannot be used, shown instead of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocked {
    /// The token expired or was revoked, and the page gave no fresh one.
    SessionEnded,
    /// The page's origin is not among the widget app's allowed origins.
    OriginNotAllowed,
    /// Anything else that stops the session from loading.
    Failed(String),
}

impl Blocked {
    pub fn of(e: &ApiError) -> Option<Self> {
        match e.code {
            ErrorCode::InvalidToken | ErrorCode::AuthRequired | ErrorCode::InvalidAuthFormat => {
                Some(Self::SessionEnded)
            }
            ErrorCode::OriginNotAllowed => Some(Self::OriginNotAllowed),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::SessionEnded => {
                "Your session has ended. Reload the page to continue the conversation.".to_owned()
            }
            Self::OriginNotAllowed => "This site is not allowed to use this assistant.".to_owned(),
            Self::Failed(m) => m.clone(),
        }
    }

    /// For `data-session`, so tests and the page's scripts can tell the states apart.
    pub fn tag(&self) -> &'static str {
        match self {
            Self::SessionEnded => "ended",
            Self::OriginNotAllowed => "forbidden",
            Self::Failed(_) => "error",
        }
    }
}

#[derive(Clone, Copy)]
pub struct Widget {
    pub client: StoredValue<Client, LocalStorage>,
    pub emitter: StoredValue<Emitter, LocalStorage>,
    overrides: StoredValue<LookOverrides>,
    pub look: RwSignal<WidgetLook>,
    /// The session answered (or failed): the widget is usable, or says why not.
    pub settled: RwSignal<bool>,
    pub blocked: RwSignal<Option<Blocked>>,
    pub open: RwSignal<bool>,
    pub view: RwSignal<View>,
    /// The open conversation; none before the first message of a new one.
    pub current: RwSignal<Option<Conversation>>,
    /// Where the open conversation is remembered across reloads, once the end user is known.
    memory_key: StoredValue<Option<String>>,
    /// Bumped when the list of past conversations may be stale.
    pub list_changed: RwSignal<u32>,
    /// The widget's root: what it creates outside of a view (conversations) is owned here.
    owner: StoredValue<Owner>,
    /// The element the widget is drawn in, inside the loader's shadow root.
    root: StoredValue<web_sys::Element, LocalStorage>,
    /// What the visitor is writing, and the files picked to go with it.
    pub draft: RwSignal<String>,
    pub picked: RwSignal<Vec<web_sys::File>, LocalStorage>,
    /// A message is on its way (files are uploading).
    pub sending: RwSignal<bool>,
    /// Why the last message could not be sent.
    pub send_error: RwSignal<Option<String>>,
}

impl Widget {
    pub fn new(
        client: Client,
        emitter: Emitter,
        overrides: LookOverrides,
        root: web_sys::Element,
    ) -> Self {
        let look = overrides.apply(WidgetLook::default());
        Self {
            client: StoredValue::new_local(client),
            emitter: StoredValue::new_local(emitter),
            overrides: StoredValue::new(overrides),
            look: RwSignal::new(look),
            settled: RwSignal::new(false),
            blocked: RwSignal::new(None),
            open: RwSignal::new(false),
            view: RwSignal::new(View::Chat),
            current: RwSignal::new(None),
            memory_key: StoredValue::new(None),
            list_changed: RwSignal::new(0),
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            root: StoredValue::new_local(root),
            draft: RwSignal::new(String::new()),
            picked: RwSignal::new_local(Vec::new()),
            sending: RwSignal::new(false),
            send_error: RwSignal::new(None),
        }
    }

    pub fn root(&self) -> Option<web_sys::Element> {
        self.root.try_get_value()
    }

    /// Closes the panel. Focus goes back to the launcher when the visitor closed it, or when
    /// it was inside the panel (it would otherwise be lost on the page).
    pub fn close(&self, by_visitor: bool) {
        let Some(root) = self.root() else { return };
        let inside = page::focused(&root).is_some_and(|f| root.contains(Some(&f)));
        self.open.set(false);
        if (by_visitor || inside)
            && let Some(launcher) = page::launcher(&root)
        {
            let _ = launcher.focus();
        }
    }

    /// Sends a message: the next one of the open conversation, or the first of a new one.
    /// The composer's draft and files are emptied once it is accepted, when it came from there
    /// (and not from the page's `Sigmic.send`).
    pub fn submit(self, text: String, files: Vec<web_sys::File>, from_composer: bool) {
        if self.sending.get_untracked() || text.trim().is_empty() {
            return;
        }
        self.sending.set(true);
        self.send_error.set(None);
        spawn_local(async move {
            let sent = match self.current.get_untracked() {
                Some(c) => c.send(text, files).await,
                None => self.start(text, files).await,
            };
            match sent {
                Ok(()) if from_composer => {
                    self.draft.set(String::new());
                    self.picked.set(Vec::new());
                }
                Ok(()) => {}
                Err(e) => {
                    if Blocked::of(&e).is_some() {
                        self.fail(&e);
                    } else {
                        let message = e.fields.values().next().cloned().unwrap_or(e.message);
                        self.send_error.set(Some(message));
                    }
                }
            }
            self.sending.set(false);
        });
    }

    async fn start(self, text: String, files: Vec<web_sys::File>) -> Result<(), ApiError> {
        let names = files.iter().map(web_sys::File::name).collect();
        let created = self.client().create_task(None, &text, &files, true).await?;
        let c = Conversation::new(self, created.id);
        c.sent(&text, names);
        self.show(c);
        Ok(())
    }

    pub fn owner(&self) -> Owner {
        self.owner.try_get_value().unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        self.client.try_get_value().unwrap_or_default()
    }

    pub fn emit(&self, name: &str, fields: &[(&str, JsValue)]) {
        self.emitter.with_value(|e| e.emit(name, fields));
    }

    /// Tells the page about an error, and blocks the widget if it cannot go on.
    pub fn fail(&self, e: &ApiError) {
        self.emit(
            "error",
            &[
                ("code", JsValue::from_str(&code_str(e.code))),
                ("message", JsValue::from_str(&e.message)),
            ],
        );
        if let Some(b) = Blocked::of(e) {
            self.blocked.set(Some(b));
        }
    }

    /// Reads the widget app's look and end user, then reopens the conversation the visitor
    /// had open before the page was reloaded.
    pub fn load_session(self) {
        self.settled.set(false);
        self.blocked.set(None);
        spawn_local(async move {
            let client = self.client();
            match client.widget_session().await {
                Ok(WidgetSession {
                    app_id,
                    look,
                    end_user_id,
                    ..
                }) => {
                    let look = self.overrides.with_value(|o| o.apply(look));
                    self.tell_look(&look);
                    self.look.set(look);
                    let key = page::conversation_key(&app_id, &end_user_id);
                    if let Some(id) = page::remembered(&key) {
                        self.show(Conversation::new(self, id));
                    }
                    self.memory_key.set_value(Some(key));
                }
                Err(e) => {
                    if Blocked::of(&e).is_none() {
                        // A browser hides the answer of a server that refused this origin
                        // without CORS headers: it reads like the network failing.
                        let message = if e.code == ErrorCode::Unavailable {
                            let origin = web_sys::window()
                                .and_then(|w| w.location().origin().ok())
                                .unwrap_or_default();
                            format!(
                                "The assistant could not be reached. Check your connection and try again. (If you run this site: is {origin} among the widget app's allowed origins?)"
                            )
                        } else {
                            e.message.clone()
                        };
                        self.blocked.set(Some(Blocked::Failed(message)));
                    }
                    self.fail(&e);
                }
            }
            self.settled.set(true);
            self.emit("ready", &[]);
        });
    }

    /// The launcher is the loader's: it takes the app's colour and corner from here.
    fn tell_look(&self, look: &WidgetLook) {
        if !is_hex_color(&look.accent_color) {
            return;
        }
        let position = match look.position {
            LauncherPosition::BottomRight => "bottom-right",
            LauncherPosition::BottomLeft => "bottom-left",
        };
        self.emit(
            "look",
            &[
                ("accentColor", JsValue::from_str(&look.accent_color)),
                ("onAccent", JsValue::from_str(on_accent(&look.accent_color))),
                ("position", JsValue::from_str(position)),
            ],
        );
    }

    /// Shows a conversation in the panel (closing the one shown before).
    pub fn show(&self, c: Conversation) {
        if let Some(old) = self.current.get_untracked() {
            old.close();
        }
        self.remember(Some(&c.task_id()));
        self.current.set(Some(c));
        self.view.set(View::Chat);
        if self.open.get_untracked() {
            c.connect();
        }
    }

    /// Starts over: the next message begins a new conversation.
    pub fn start_new(&self) {
        if let Some(old) = self.current.get_untracked() {
            old.close();
        }
        self.current.set(None);
        self.remember(None);
        self.view.set(View::Chat);
    }

    /// The remembered conversation was refused (deleted, or another end user's).
    pub fn forget(&self, c: Conversation) {
        if self.current.get_untracked().is_some_and(|cur| cur == c) {
            self.start_new();
        }
    }

    fn remember(&self, task_id: Option<&str>) {
        if let Some(key) = self.memory_key.get_value() {
            page::remember(&key, task_id);
        }
    }
}

/// An error code as the wire spells it (`ORIGIN_NOT_ALLOWED`).
pub fn code_str(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn use_widget() -> Widget {
    expect_context::<Widget>()
}
