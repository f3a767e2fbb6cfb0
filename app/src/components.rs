//! Small pieces the pages share.

use leptos::prelude::*;

use crate::error::{ApiError, ServerError};

/// The message under an input, when the server said this field was wrong.
#[component]
pub fn FieldError<T: Clone + Send + Sync + 'static>(
    result: Signal<Option<Result<T, ServerError>>>,
    field: &'static str,
) -> impl IntoView {
    let message = move || {
        result
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.field_message(field).map(str::to_owned))
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="field-error" role="alert" id=format!("{field}-error")>
                {message}
            </p>
        </Show>
    }
}

/// An error that belongs to no single field (or a form without fields).
#[component]
pub fn FormError<T: Clone + Send + Sync + 'static>(
    result: Signal<Option<Result<T, ServerError>>>,
) -> impl IntoView {
    let message = move || {
        result
            .get()
            .and_then(|r| r.err())
            .filter(|e| e.fields.is_empty())
            .map(|e| e.0.message)
    };
    view! {
        <Show when=move || message().is_some()>
            <div class="alert-error" role="alert">{message}</div>
        </Show>
    }
}

/// A failed load, said plainly.
#[component]
pub fn LoadError(#[prop(into)] error: ApiError) -> impl IntoView {
    view! { <div class="alert-error" role="alert">{error.message}</div> }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="text-sm text-slate-500" aria-live="polite">"Loading…"</p> }
}

/// A short date from an RFC 3339 time, without pulling a date library into the bundle.
pub fn short_date(ts: &str) -> String {
    ts.get(..10).unwrap_or(ts).to_owned()
}

/// The Chat UI's symbols, drawn inline so they look the same on every system (an emoji
/// depends on the fonts installed). Decorative: the control around one carries its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Attach,
    Rename,
    Delete,
    Preview,
    Download,
    Refresh,
    Close,
    Menu,
    Stop,
    Send,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Self::Attach => {
                "M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.6 1.6 0 0 1-2.3-2.3L15 7.3"
            }
            Self::Rename => "M4 20h4L19 9l-4-4L4 16v4z M13 7l4 4",
            Self::Delete => "M4 7h16 M9 7V4h6v3 M6 7l1 13h10l1-13 M10 11v6 M14 11v6",
            Self::Preview => {
                "M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z M12 9a3 3 0 1 0 0 6 3 3 0 1 0 0-6z"
            }
            Self::Download => "M12 4v11 M7 10l5 5 5-5 M5 20h14",
            Self::Refresh => "M20 12a8 8 0 1 1-2.4-5.7 M20 4v5h-5",
            Self::Close => "M6 6l12 12 M18 6L6 18",
            Self::Menu => "M4 6h16 M4 12h16 M4 18h16",
            Self::Stop => "M7 7h10v10H7z",
            Self::Send => "M12 19V5 M5 12l7-7 7 7",
        }
    }
}

#[component]
pub fn Svg(icon: Icon) -> impl IntoView {
    view! {
        <svg
            class="size-4 shrink-0"
            viewBox="0 0 24 24"
            fill=if icon == Icon::Stop { "currentColor" } else { "none" }
            stroke="currentColor"
            stroke-width="2"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
        >
            <path d=icon.path() />
        </svg>
    }
}
