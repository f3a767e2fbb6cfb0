//! A project's Schedules tab: tasks that start by themselves at the times of a cron
//! expression in a time zone. Project admins create, edit, run and delete them; everyone in
//! the project sees them, their runs (each a link to its conversation) and the names of the
//! project's secrets, which the runs receive.

use std::time::Duration;

use leptos::prelude::*;
use protocol::Role;
use protocol::schedule::{RunOutcome, RunTrigger, Schedule, ScheduleRun};
use protocol::task::TaskStatus;

use crate::api::{
    CreateSchedule, DeleteSchedule, DeleteScheduleFile, RunScheduleNow, UpdateSchedule,
    get_schedule_runs, get_schedules,
};
use crate::components::{FormError, LoadError, Loading};
use crate::error::ServerError;
use crate::pages::project_secrets::ProjectSecrets;
use crate::pages::projects::current_project;
use crate::pages::schedule_form::{Draft, ScheduleFields, readable_time};

/// What every schedule's card acts through: the tab's actions (its list is drawn again after
/// each, so the cards cannot own them) and what is open.
#[derive(Clone, Copy)]
struct Ctx {
    project_id: Memo<String>,
    admin: Signal<bool>,
    update: ServerAction<UpdateSchedule>,
    delete: ServerAction<DeleteSchedule>,
    run: ServerAction<RunScheduleNow>,
    delete_file: ServerAction<DeleteScheduleFile>,
    /// The schedule whose edit form is open.
    editing: RwSignal<Option<String>>,
    /// The schedules whose runs are shown.
    showing_runs: RwSignal<Vec<String>>,
    /// The schedule "Run now" was last pressed for, so its answer shows on its card.
    ran: RwSignal<Option<String>>,
    /// Uploads of files done: the list is read again after each.
    uploaded: RwSignal<u32>,
}

#[component]
pub fn SchedulesTab() -> impl IntoView {
    let (project_id, project) = current_project();
    let admin = Signal::derive(move || project.get().is_some_and(|p| p.role == Role::Admin));
    let create = ServerAction::<CreateSchedule>::new();
    let update = ServerAction::<UpdateSchedule>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    let run = ServerAction::<RunScheduleNow>::new();
    let delete_file = ServerAction::<DeleteScheduleFile>::new();
    let uploaded = RwSignal::new(0_u32);
    // Edits saved. Only a save redraws the list: after a refused one the open form keeps
    // what was typed, next to the reasons.
    let saved = RwSignal::new(0_u32);
    let schedules = Resource::new(
        move || {
            (
                project_id.get(),
                create.version().get(),
                saved.get(),
                delete.version().get(),
                run.version().get(),
                delete_file.version().get(),
                uploaded.get(),
            )
        },
        |(id, ..)| get_schedules(id),
    );
    let ctx = Ctx {
        project_id,
        admin,
        update,
        delete,
        run,
        delete_file,
        editing: RwSignal::new(None),
        showing_runs: RwSignal::new(Vec::new()),
        ran: RwSignal::new(None),
        uploaded,
    };
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(_))) {
            ctx.editing.set(None);
            saved.update(|n| *n += 1);
        }
    });
    view! {
        <section class="card mb-6" aria-labelledby="schedules-title">
            <h2 id="schedules-title" class="mb-1 font-semibold">"Schedules"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "A schedule starts a task of this project at the times of a cron expression, in a time zone you choose, with the message you write. Each run is a conversation you can open in the Chat. Runs act for the admin who created the schedule (or last saved a paused one)."
            </p>
            <FormError result=Signal::derive(move || ctx.delete.value().get()) />
            <FormError result=Signal::derive(move || ctx.delete_file.value().get()) />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match schedules.await {
                        Err(e) => view! { <LoadError error=e /> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="text-sm text-slate-500">"No schedules yet."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="space-y-4" data-testid="schedules">
                                {list.into_iter().map(|schedule| view! { <ScheduleCard schedule ctx /> }).collect_view()}
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
            {move || (!admin.get()).then(|| view! {
                <p class="mt-3 text-sm text-slate-500">"Only project admins can create, change and run schedules."</p>
            })}
        </section>
        {move || admin.get().then(|| view! { <NewSchedule project_id create /> })}
        <ProjectSecrets project_id admin />
    }
    .into_any()
}

#[component]
fn NewSchedule(project_id: Memo<String>, create: ServerAction<CreateSchedule>) -> impl IntoView {
    let draft = Draft::new(None);
    let result = Signal::derive(move || create.value().get().map(|r| r.map(|_| ())));
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            draft.fill(None);
        }
    });
    let made = move || {
        create
            .value()
            .get()
            .and_then(Result::ok)
            .map(|s| format!("Created {}.", s.name))
    };
    view! {
        <section class="card mb-6" aria-labelledby="schedule-create-heading">
            <h2 id="schedule-create-heading" class="mb-3 font-semibold">"New schedule"</h2>
            <ActionForm action=create attr:class="space-y-3" attr:data-testid="schedule-form">
                <input type="hidden" name="project_id" value=move || project_id.get() />
                <ScheduleFields draft prefix="schedule-new" project_id result />
                <FormError result />
                <button class="btn btn-primary" type="submit" disabled=move || create.pending().get()>
                    "Create schedule"
                </button>
                {move || made().map(|note| view! {
                    <p class="text-sm text-emerald-700 dark:text-emerald-400" role="status">{note}</p>
                })}
            </ActionForm>
        </section>
    }
    .into_any()
}

/// One schedule: what it does and when, its state, its controls (for admins) and its runs.
#[component]
fn ScheduleCard(schedule: Schedule, ctx: Ctx) -> impl IntoView {
    let id = schedule.id.clone();
    let title_id = format!("schedule-{id}-title");
    let labelled_by = title_id.clone();
    let stored = StoredValue::new(schedule.clone());
    let is_editing = {
        let id = id.clone();
        move || ctx.editing.get().as_deref() == Some(id.as_str())
    };
    let sid = StoredValue::new(id.clone());
    let runs_open = move || {
        ctx.showing_runs
            .with(|open| sid.with_value(|id| open.contains(id)))
    };
    let state = match (&schedule.paused_reason, schedule.enabled) {
        (Some(_), _) => (
            "Paused",
            "badge border-amber-400 text-amber-800 dark:text-amber-300",
        ),
        (None, true) => ("Enabled", "badge"),
        (None, false) => ("Disabled", "badge text-slate-500"),
    };
    let next = schedule.next_runs.first().cloned();
    let files = schedule.files.clone();
    let id_for_files = StoredValue::new(id.clone());
    view! {
        <article class="rounded-md border border-slate-200 p-4 dark:border-slate-800"
            aria-labelledby=labelled_by data-testid="schedule" data-schedule-id=id.clone()>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h3 class="font-medium" id=title_id>
                    {schedule.name.clone()}
                    <span class=state.1 data-testid="schedule-state">{state.0}</span>
                </h3>
                {move || ctx.admin.get().then(|| view! { <Manage schedule=stored.get_value() ctx /> })}
            </div>
            {schedule.paused_reason.clone().map(|reason| view! {
                <div class="mt-2 rounded-md border-2 border-amber-400 bg-amber-50 p-3 text-sm dark:border-amber-600 dark:bg-amber-950"
                    role="status" data-testid="schedule-paused">
                    <strong>"Paused: "</strong> {reason}
                    " Saving the schedule again resumes it, acting for you."
                </div>
            })}
            <p class="mt-1 text-sm" data-testid="schedule-when">
                {schedule.description.clone()}
                " " <code class="font-mono text-xs text-slate-500">{schedule.cron.clone()}</code>
            </p>
            <dl class="mt-2 grid gap-x-4 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
                <dt class="text-slate-500">"Next run"</dt>
                <dd data-testid="schedule-next-run">
                    {match next {
                        Some(t) => {
                            let shown = readable_time(&t);
                            view! { <time datetime=t>{shown}</time> }.into_any()
                        }
                        None => view! { <span class="text-slate-500">"none"</span> }.into_any(),
                    }}
                </dd>
                <dt class="text-slate-500">"Last run"</dt>
                <dd>{schedule.last_run_at.as_deref().map_or_else(|| "never".to_owned(), readable_time)}</dd>
                {schedule.ends_at.clone().map(|end| view! {
                    <dt class="text-slate-500">"Ends"</dt>
                    <dd>{readable_time(&end)}</dd>
                })}
                {schedule.run_as.clone().map(|who| view! {
                    <dt class="text-slate-500">"Runs as"</dt>
                    <dd>{who}</dd>
                })}
                <dt class="text-slate-500">"Message"</dt>
                <dd class="whitespace-pre-wrap break-words">{schedule.message.clone()}</dd>
                {(!files.is_empty()).then(|| view! {
                    <dt class="text-slate-500">"Files"</dt>
                    <dd><Files files=files.clone() schedule_id=id.clone() ctx /></dd>
                })}
            </dl>
            {move || ctx.admin.get().then(|| view! { <AttachFiles schedule_id=id_for_files.get_value() ctx /> })}
            <RunNowAnswer schedule_id=id.clone() ctx />
            {move || is_editing().then(|| view! { <EditSchedule schedule=stored.get_value() ctx /> })}
            <div class="mt-3">
                <button class="btn" type="button"
                    aria-expanded=move || runs_open().to_string()
                    on:click=move |_| {
                        let me = stored.with_value(|s| s.id.clone());
                        ctx.showing_runs.update(|open| {
                            if let Some(i) = open.iter().position(|o| *o == me) {
                                open.remove(i);
                            } else {
                                open.push(me);
                            }
                        });
                    }>
                    {move || if runs_open() { "Hide runs" } else { "Show runs" }}
                </button>
            </div>
            {move || runs_open().then(|| view! { <Runs schedule_id=stored.with_value(|s| s.id.clone()) ctx /> })}
        </article>
    }
    .into_any()
}

/// Edit, Run now, and Delete (with a confirmation).
#[component]
fn Manage(schedule: Schedule, ctx: Ctx) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = StoredValue::new(schedule.id.clone());
    let remove = move |_| {
        ctx.delete.dispatch(DeleteSchedule {
            project_id: ctx.project_id.get_untracked(),
            schedule_id: id.get_value(),
        });
    };
    let run_now = move |_| {
        let me = id.get_value();
        ctx.ran.set(Some(me.clone()));
        // Its runs open, to show the new one.
        ctx.showing_runs.update(|open| {
            if !open.contains(&me) {
                open.push(me.clone());
            }
        });
        ctx.run.dispatch(RunScheduleNow {
            project_id: ctx.project_id.get_untracked(),
            schedule_id: me,
        });
    };
    view! {
        <div class="flex flex-wrap gap-1">
            <button class="btn" type="button"
                on:click=move |_| ctx.editing.update(|e| {
                    let me = id.get_value();
                    *e = if e.as_deref() == Some(me.as_str()) { None } else { Some(me) };
                })>"Edit"</button>
            <button class="btn" type="button" on:click=run_now
                disabled=move || ctx.run.pending().get()>"Run now"</button>
            {move || if confirming.get() {
                view! {
                    <span class="text-sm">"Delete this schedule? Its runs' conversations stay."</span>
                    <button class="btn btn-danger" type="button" on:click=remove>"Confirm delete"</button>
                    <button class="btn" type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                }.into_any()
            } else {
                view! {
                    <button class="btn btn-danger" type="button" on:click=move |_| confirming.set(true)>"Delete"</button>
                }.into_any()
            }}
        </div>
    }
    .into_any()
}

/// What "Run now" did, on the card it was pressed on: the conversation it started, or why not.
#[component]
fn RunNowAnswer(schedule_id: String, ctx: Ctx) -> impl IntoView {
    let mine = move || ctx.ran.get().as_deref() == Some(schedule_id.as_str());
    let result: Signal<Option<Result<(), ServerError>>> = Signal::derive({
        let mine = mine.clone();
        move || {
            if mine() {
                ctx.run.value().get().map(|r| r.map(|_| ()))
            } else {
                None
            }
        }
    });
    let started = move || {
        if !mine() {
            return None;
        }
        ctx.run.value().get().and_then(Result::ok)
    };
    view! {
        <div class="mt-2">
            <FormError result />
            {move || started().map(|task| {
                let href = format!("/p/{}/c/{}", ctx.project_id.get_untracked(), task.id);
                view! {
                    <p class="text-sm text-emerald-700 dark:text-emerald-400" role="status" data-testid="schedule-run-started">
                        "Started a run. " <a href=href>"Open conversation"</a>
                    </p>
                }
            })}
        </div>
    }
    .into_any()
}

#[component]
fn EditSchedule(schedule: Schedule, ctx: Ctx) -> impl IntoView {
    let draft = Draft::new(Some(&schedule));
    let result = Signal::derive(move || ctx.update.value().get().map(|r| r.map(|_| ())));
    let prefix = format!("schedule-{}", schedule.id);
    view! {
        <ActionForm action=ctx.update attr:class="mt-4 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800"
            attr:data-testid="schedule-form">
            <input type="hidden" name="project_id" value=move || ctx.project_id.get() />
            <input type="hidden" name="schedule_id" value=schedule.id.clone() />
            <ScheduleFields draft prefix project_id=ctx.project_id result />
            <FormError result />
            <div class="flex gap-2">
                <button class="btn btn-primary" type="submit" disabled=move || ctx.update.pending().get()>"Save"</button>
                <button class="btn" type="button" on:click=move |_| ctx.editing.set(None)>"Cancel"</button>
            </div>
        </ActionForm>
    }
    .into_any()
}

/// Adds files every run gets in `uploads/`: posted to the REST API as the Chat UI posts a
/// task's files (a server function takes no files).
#[component]
fn AttachFiles(schedule_id: String, ctx: Ctx) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let failure: RwSignal<Option<String>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let sid = StoredValue::new(schedule_id);
    let field_id = format!("schedule-files-{}", sid.get_value());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(el) = input.get_untracked() else {
            return;
        };
        let files: Vec<web_sys::File> = el
            .files()
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        if files.is_empty() {
            failure.set(Some("Choose one or more files.".to_owned()));
            return;
        }
        busy.set(true);
        let pid = ctx.project_id.get_untracked();
        leptos::task::spawn_local(async move {
            let answer = chat::client::upload_schedule_files(&pid, &sid.get_value(), &files).await;
            busy.set(false);
            match answer {
                Ok(_) => {
                    el.set_value("");
                    failure.set(None);
                    ctx.uploaded.update(|n| *n += 1);
                }
                Err(e) => failure.set(Some(
                    e.field_message("files").unwrap_or(&e.message).to_owned(),
                )),
            }
        });
    };
    view! {
        <form class="mt-3 flex flex-wrap items-center gap-2" on:submit=submit>
            <label class="label text-xs" for=field_id.clone()>"Files for every run"</label>
            <input class="input w-auto grow text-xs" type="file" multiple id=field_id name="files" node_ref=input />
            <button class="btn px-2 py-0.5 text-xs" type="submit" disabled=move || busy.get()>"Attach"</button>
            {move || failure.get().map(|m| view! { <p class="w-full text-sm text-red-700 dark:text-red-400" role="alert">{m}</p> })}
        </form>
    }
    .into_any()
}

/// The files each run gets in `uploads/` (added through the REST API).
#[component]
fn Files(
    files: Vec<protocol::schedule::ScheduleFile>,
    schedule_id: String,
    ctx: Ctx,
) -> impl IntoView {
    let schedule_id = StoredValue::new(schedule_id);
    view! {
        <ul class="space-y-1" data-testid="schedule-files">
            {files.into_iter().map(|f| {
                let name = StoredValue::new(f.name.clone());
                view! {
                    <li class="flex flex-wrap items-center gap-2">
                        <span class="font-mono text-xs">{f.name.clone()}</span>
                        <span class="text-xs text-slate-500">{format!("{} bytes", f.size)}</span>
                        {move || ctx.admin.get().then(|| view! {
                            <button class="btn px-2 py-0.5 text-xs" type="button"
                                aria-label=format!("Remove the file {}", name.get_value())
                                on:click=move |_| {
                                    ctx.delete_file.dispatch(DeleteScheduleFile {
                                        project_id: ctx.project_id.get_untracked(),
                                        schedule_id: schedule_id.get_value(),
                                        name: name.get_value(),
                                    });
                                }>"Remove"</button>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A schedule's latest runs. While one is still going, the list is read again every few
/// seconds, so its status moves on by itself.
#[component]
fn Runs(schedule_id: String, ctx: Ctx) -> impl IntoView {
    let refresh = RwSignal::new(0_u32);
    let sid = StoredValue::new(schedule_id);
    let runs = Resource::new(
        move || {
            (
                ctx.project_id.get(),
                sid.get_value(),
                ctx.run.version().get(),
                refresh.get(),
            )
        },
        |(pid, sid, ..)| get_schedule_runs(pid, sid),
    );
    Effect::new(move |_| {
        let going = runs.get().and_then(Result::ok).is_some_and(|list| {
            list.iter()
                .any(|r| r.task_status.is_some_and(TaskStatus::is_active))
        });
        if going {
            set_timeout(
                move || {
                    refresh.try_update(|n| *n += 1);
                },
                Duration::from_secs(3),
            );
        }
    });
    let heading = format!("schedule-{}-runs", sid.get_value());
    let labelled_by = heading.clone();
    view! {
        <section class="mt-3" aria-labelledby=labelled_by data-testid="schedule-runs">
            <div class="mb-2 flex items-center gap-2">
                <h4 id=heading class="text-sm font-semibold">"Runs"</h4>
                <button class="btn px-2 py-0.5 text-xs" type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
            </div>
            <Transition fallback=Loading>
                {move || {
                    let pid = ctx.project_id.get();
                    Suspend::new(async move {
                        match runs.await {
                            Err(e) => view! { <LoadError error=e /> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"No runs yet."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <table class="table text-sm">
                                    <thead><tr>
                                        <th scope="col">"Time"</th><th scope="col">"Trigger"</th>
                                        <th scope="col">"Outcome"</th><th scope="col">"Task"</th>
                                        <th scope="col"><span class="sr-only">"Conversation"</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|r| view! { <RunRow run=r project_id=pid.clone() /> }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn RunRow(run: ScheduleRun, project_id: String) -> impl IntoView {
    let trigger = match run.trigger {
        RunTrigger::Schedule => "On schedule",
        RunTrigger::CatchUp => "Catch-up",
        RunTrigger::Manual => "Run now",
    };
    let outcome = match (run.outcome, run.reason.clone()) {
        (RunOutcome::Started, _) => "Started".to_owned(),
        (RunOutcome::Skipped, Some(reason)) => format!("Skipped: {reason}"),
        (RunOutcome::Skipped, None) => "Skipped".to_owned(),
    };
    let status = run.task_status.map_or("", status_label);
    let shown = readable_time(&run.scheduled_for);
    view! {
        <tr data-testid="schedule-run">
            <td><time datetime=run.scheduled_for.clone()>{shown}</time></td>
            <td>{trigger}</td>
            <td class=if run.outcome == RunOutcome::Skipped { "text-amber-700 dark:text-amber-400" } else { "" }>{outcome}</td>
            <td data-testid="schedule-run-status">{status}</td>
            <td class="text-right">
                {run.task_id.clone().map(|task| view! {
                    <a href=format!("/p/{project_id}/c/{task}") data-testid="schedule-run-link">"Open conversation"</a>
                })}
            </td>
        </tr>
    }
}

fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "Waiting to start",
        TaskStatus::Running => "Running",
        TaskStatus::AwaitingApproval => "Waiting for approval",
        TaskStatus::Completed => "Completed",
        TaskStatus::Failed => "Failed",
        TaskStatus::Cancelled => "Cancelled",
    }
}
