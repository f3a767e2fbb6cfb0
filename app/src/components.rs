//! Small pieces the pages share.

use leptos::prelude::*;

use crate::error::ApiError;

/// The message under an input, when the server said this field was wrong.
#[component]
pub fn FieldError<T: Clone + Send + Sync + 'static>(
    result: Signal<Option<Result<T, ApiError>>>,
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
    result: Signal<Option<Result<T, ApiError>>>,
) -> impl IntoView {
    let message = move || {
        result
            .get()
            .and_then(|r| r.err())
            .filter(|e| e.fields.is_empty())
            .map(|e| e.message)
    };
    view! {
        <Show when=move || message().is_some()>
            <div class="alert-error" role="alert">{message}</div>
        </Show>
    }
}

/// A failed load, said plainly.
#[component]
pub fn LoadError(error: ApiError) -> impl IntoView {
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
