//! Sign up (with or without an invitation) and log in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{Login, Signup, get_invitation};
use crate::components::{FieldError, FormError};

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <main class="mx-auto flex min-h-screen max-w-md flex-col justify-center px-4 py-12">
            <a href="/" class="mb-8 text-center text-2xl font-semibold tracking-tight">"Sigmic"</a>
            <div class="card">
                <h1 class="mb-6 text-xl font-semibold">{title}</h1>
                {children()}
            </div>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let result = Signal::derive(move || action.value().get());
    view! {
        <AuthCard title="Log in">
            <ActionForm action=action attr:class="space-y-4">
                <FormError result />
                <div>
                    <label class="label" for="email">"Email"</label>
                    <input class="input" id="email" name="email" type="email" autocomplete="email" required />
                </div>
                <div>
                    <label class="label" for="password">"Password"</label>
                    <input class="input" id="password" name="password" type="password" autocomplete="current-password" required />
                </div>
                <button class="btn btn-primary w-full" type="submit" disabled=move || action.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400">
                "New to Sigmic? " <a class="link" href="/signup">"Create an account"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let query = use_query_map();
    let invite = move || query.read().get("invite").filter(|t| !t.is_empty());
    let invitation = Resource::new(invite, |token| async move {
        match token {
            Some(t) => Some(get_invitation(t).await),
            None => None,
        }
    });
    let action = ServerAction::<Signup>::new();
    let result = Signal::derive(move || action.value().get());

    let form = move |email: Option<String>, token: Option<String>| {
        let locked = email.is_some();
        view! {
            <ActionForm action=action attr:class="space-y-4">
                <FormError result />
                <FieldError result field="invitationToken" />
                <input type="hidden" name="invitation_token" value=token.unwrap_or_default() />
                <div>
                    <label class="label" for="email">"Email"</label>
                    <input class="input" id="email" name="email" type="email" autocomplete="email" required
                        value=email.unwrap_or_default() readonly=locked aria-describedby="email-error" />
                    <FieldError result field="email" />
                </div>
                <div>
                    <label class="label" for="username">"Username"</label>
                    <input class="input" id="username" name="username" autocomplete="username"
                        placeholder="taken from your email if left empty" aria-describedby="username-error" />
                    <FieldError result field="username" />
                </div>
                <div>
                    <label class="label" for="name">"Name"</label>
                    <input class="input" id="name" name="name" autocomplete="name" aria-describedby="name-error" />
                    <FieldError result field="name" />
                </div>
                <div>
                    <label class="label" for="password">"Password"</label>
                    <input class="input" id="password" name="password" type="password" autocomplete="new-password"
                        required minlength="8" aria-describedby="password-error" />
                    <FieldError result field="password" />
                </div>
                <button class="btn btn-primary w-full" type="submit" disabled=move || action.pending().get()>
                    "Create account"
                </button>
            </ActionForm>
        }
    };

    view! {
        <AuthCard title="Create your account">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match invitation.await {
                        None => form(None, None).into_any(),
                        Some(Ok(inv)) => view! {
                            <p class="mb-4 rounded-md bg-indigo-50 p-3 text-sm text-indigo-900 dark:bg-indigo-950 dark:text-indigo-100">
                                "You are invited to join "
                                <strong data-testid="invite-org">{inv.organization_name.clone()}</strong>
                                " as " {inv.role.label().to_lowercase()} "."
                            </p>
                            {form(Some(inv.email.clone()), invite())}
                        }.into_any(),
                        Some(Err(_)) => view! {
                            <div class="alert-error" role="alert">
                                "This invitation link is invalid, was already used or has expired. Ask an admin of the organization for a new one."
                            </div>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400">
                "Already have an account? " <a class="link" href="/login">"Log in"</a>
            </p>
        </AuthCard>
    }
}
