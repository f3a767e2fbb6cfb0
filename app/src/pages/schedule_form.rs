//! The fields of a schedule, shared by the create and the edit form: a preset that writes the
//! cron expression (or the expression itself), its time zone, and a live preview of what it
//! means (in words, and its next five times) asked of the server as you type. Each input is
//! bound to a signal (`prop:value`), so emptying the form after a save is setting the signals.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::schedule::{MissedRuns, Schedule, SchedulePreview};

use crate::api::preview_schedule;
use crate::error::ServerError;

/// Time zones offered in the zone field's list; any other IANA name may be typed.
const ZONES: [&str; 24] = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Athens",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
];

const WEEKDAYS: [(&str, &str); 7] = [
    ("1", "Monday"),
    ("2", "Tuesday"),
    ("3", "Wednesday"),
    ("4", "Thursday"),
    ("5", "Friday"),
    ("6", "Saturday"),
    ("0", "Sunday"),
];

/// What the form holds, as the text its inputs show.
#[derive(Debug, Clone, Copy)]
pub struct Draft {
    name: RwSignal<String>,
    /// `hourly`, `daily`, `weekly` or `custom`.
    preset: RwSignal<String>,
    /// `HH:MM`, for the daily and weekly presets.
    time: RwSignal<String>,
    /// `0` (Sunday) to `6`, for the weekly preset.
    weekday: RwSignal<String>,
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
    /// Whether the zone was given (by the schedule or by hand): else the browser's own is
    /// put in once the page runs in the browser.
    zone_given: RwSignal<bool>,
    message: RwSignal<String>,
    env: RwSignal<String>,
    /// ``, `true` or `false` (the project's setting, or not).
    auto_execute: RwSignal<String>,
    enabled: RwSignal<bool>,
    skip_missed: RwSignal<bool>,
    allow_overlap: RwSignal<bool>,
    /// `YYYY-MM-DDTHH:MM` in the schedule's zone, or empty.
    ends_at: RwSignal<String>,
}

impl Draft {
    pub fn new(schedule: Option<&Schedule>) -> Self {
        let draft = Self {
            name: RwSignal::new(String::new()),
            preset: RwSignal::new(String::new()),
            time: RwSignal::new(String::new()),
            weekday: RwSignal::new(String::new()),
            cron: RwSignal::new(String::new()),
            timezone: RwSignal::new(String::new()),
            zone_given: RwSignal::new(false),
            message: RwSignal::new(String::new()),
            env: RwSignal::new(String::new()),
            auto_execute: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
            skip_missed: RwSignal::new(false),
            allow_overlap: RwSignal::new(false),
            ends_at: RwSignal::new(String::new()),
        };
        draft.fill(schedule);
        draft
    }

    /// The schedule's values, or a new schedule's defaults (daily at 09:00).
    pub fn fill(&self, schedule: Option<&Schedule>) {
        let cron = schedule.map_or_else(|| "0 9 * * *".to_owned(), |s| s.cron.clone());
        let (preset, time, weekday) = preset_of(&cron);
        self.preset.set(preset.to_owned());
        self.time.set(time.unwrap_or_else(|| "09:00".to_owned()));
        self.weekday.set(weekday.unwrap_or_else(|| "1".to_owned()));
        self.cron.set(cron);
        self.name
            .set(schedule.map(|s| s.name.clone()).unwrap_or_default());
        self.timezone.set(
            schedule
                .map(|s| s.timezone.clone())
                .or_else(browser_zone)
                .unwrap_or_else(|| "UTC".to_owned()),
        );
        self.zone_given.set(schedule.is_some());
        self.message
            .set(schedule.map(|s| s.message.clone()).unwrap_or_default());
        self.env.set(
            schedule
                .map(|s| {
                    s.env
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
        );
        self.auto_execute.set(
            match schedule.and_then(|s| s.auto_execute) {
                None => "",
                Some(true) => "true",
                Some(false) => "false",
            }
            .to_owned(),
        );
        self.enabled.set(schedule.is_none_or(|s| s.enabled));
        self.skip_missed
            .set(schedule.is_some_and(|s| s.missed_runs == MissedRuns::Skip));
        self.allow_overlap
            .set(schedule.is_some_and(|s| s.allow_overlap));
        // Shown in the schedule's zone, the zone the form reads it in.
        self.ends_at.set(
            schedule
                .and_then(|s| s.ends_at.as_deref())
                .and_then(|e| e.get(..16))
                .unwrap_or_default()
                .to_owned(),
        );
    }

    /// The preset's expression, when the preset writes one.
    fn apply_preset(&self) {
        if let Some(cron) = cron_of(
            &self.preset.get_untracked(),
            &self.time.get_untracked(),
            &self.weekday.get_untracked(),
        ) {
            self.cron.set(cron);
        }
    }
}

/// The preset an expression is, with its time and weekday: what the form shows for it.
pub fn preset_of(cron: &str) -> (&'static str, Option<String>, Option<String>) {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if cron.trim() == "@hourly" || fields == ["0", "*", "*", "*", "*"] {
        return ("hourly", None, None);
    }
    let [minute, hour, "*", "*", day] = fields.as_slice() else {
        return ("custom", None, None);
    };
    let (Ok(minute), Ok(hour)) = (minute.parse::<u8>(), hour.parse::<u8>()) else {
        return ("custom", None, None);
    };
    if minute > 59 || hour > 23 {
        return ("custom", None, None);
    }
    let time = Some(format!("{hour:02}:{minute:02}"));
    if *day == "*" {
        return ("daily", time, None);
    }
    let day = match day.to_ascii_uppercase().as_str() {
        "0" | "7" | "SUN" => "0",
        "1" | "MON" => "1",
        "2" | "TUE" => "2",
        "3" | "WED" => "3",
        "4" | "THU" => "4",
        "5" | "FRI" => "5",
        "6" | "SAT" => "6",
        _ => return ("custom", None, None),
    };
    ("weekly", time, Some(day.to_owned()))
}

/// The expression of a preset at `time` (`HH:MM`) on `weekday` (`0`–`6`); `None` for custom
/// or a time that is not one.
pub fn cron_of(preset: &str, time: &str, weekday: &str) -> Option<String> {
    let clock = || {
        let (h, m) = time.split_once(':')?;
        let (h, m) = (h.parse::<u8>().ok()?, m.get(..2)?.parse::<u8>().ok()?);
        (h <= 23 && m <= 59).then_some((h, m))
    };
    match preset {
        "hourly" => Some("0 * * * *".to_owned()),
        "daily" => clock().map(|(h, m)| format!("{m} {h} * * *")),
        "weekly" => {
            let day = weekday.parse::<u8>().ok().filter(|d| *d <= 6)?;
            clock().map(|(h, m)| format!("{m} {h} * * {day}"))
        }
        _ => None,
    }
}

/// The browser's time zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`); none on the
/// server.
fn browser_zone() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let format =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(
            &format.resolved_options(),
            &wasm_bindgen::JsValue::from_str("timeZone"),
        )
        .ok()?
        .as_string()
        .filter(|z| !z.is_empty())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// `2026-12-14T09:00:00+01:00` → `Mon 2026-12-14 09:00 (UTC+01:00)`: the day of the week,
/// the wall-clock time, and the offset it has then. Anything else is shown as sent.
pub fn readable_time(ts: &str) -> String {
    let (Some(date), Some(clock)) = (ts.get(..10), ts.get(11..16)) else {
        return ts.to_owned();
    };
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return ts.to_owned();
    };
    // The offset follows the seconds (and any fraction of them).
    let rest = ts.get(19..).unwrap_or_default();
    let offset = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match offset {
        "Z" | "+00:00" | "" => "UTC".to_owned(),
        other => format!("UTC{other}"),
    };
    format!("{} {date} {clock} ({offset})", weekday_name(y, m, d))
}

/// The day of the week of a date in the Gregorian calendar (days since 1970-01-01, a
/// Thursday: H. Hinnant's `days_from_civil`).
fn weekday_name(y: i64, m: i64, d: i64) -> &'static str {
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let index = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    NAMES[index]
}

/// A message under an input: the server's, after a save (or the live preview's, for the
/// expression and the zone).
#[component]
fn Problem(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || message.get().is_some()>
            <p class="field-error" role="alert" id=id.clone()>{move || message.get()}</p>
        </Show>
    }
}

/// The inputs, named as the server functions' arguments. `prefix` keeps each form's ids
/// apart, so every label points at its own input.
#[component]
pub fn ScheduleFields(
    draft: Draft,
    #[prop(into)] prefix: String,
    project_id: Memo<String>,
    result: Signal<Option<Result<(), ServerError>>>,
) -> impl IntoView {
    let prefix = StoredValue::new(prefix);
    let id = move |field: &str| prefix.with_value(|p| format!("{p}-{field}"));
    // The live preview: asked 300 ms after the expression or zone last changed; an answer
    // that arrives after a newer question is dropped.
    let preview: RwSignal<Option<Result<SchedulePreview, ServerError>>> = RwSignal::new(None);
    let asked = StoredValue::new(0_u64);
    Effect::new(move |_| {
        let cron = draft.cron.get();
        let zone = draft.timezone.get();
        let pid = project_id.get();
        let n = asked.get_value() + 1;
        asked.set_value(n);
        if cron.trim().is_empty() {
            preview.set(None);
            return;
        }
        set_timeout(
            move || {
                if asked.try_get_value() != Some(n) {
                    return;
                }
                spawn_local(async move {
                    let answer = preview_schedule(pid, cron, zone).await;
                    if asked.try_get_value() == Some(n) {
                        preview.try_set(Some(answer));
                    }
                });
            },
            Duration::from_millis(300),
        );
    });
    // A new schedule's zone is the browser's, unless one was typed first.
    Effect::new(move |_| {
        if !draft.zone_given.get_untracked()
            && let Some(zone) = browser_zone()
        {
            draft.timezone.set(zone);
        }
    });
    let saved_error = move |field: &'static str| {
        result
            .get()
            .and_then(Result::err)
            .and_then(|e| e.field_message(field).map(str::to_owned))
    };
    // The expression and the zone are judged by the preview as they are now; a save's
    // message shows until the preview has spoken.
    let live_error = move |field: &'static str| {
        Signal::derive(move || match preview.get() {
            Some(Err(e)) => e.field_message(field).map(str::to_owned),
            Some(Ok(_)) => None,
            None => saved_error(field),
        })
    };
    let saved = move |field: &'static str| Signal::derive(move || saved_error(field));
    let preview_problem = move || match preview.get() {
        Some(Err(e)) if e.fields.is_empty() => Some(e.0.message),
        _ => None,
    };
    let shows_time = move || matches!(draft.preset.get().as_str(), "daily" | "weekly");
    let shows_day = move || draft.preset.get() == "weekly";
    let zones = id("zones");
    view! {
        <div class="grid gap-3 sm:grid-cols-2">
            <div class="sm:col-span-2">
                <label class="label" for=id("name")>"Name"</label>
                <input class="input" id=id("name") name="name" required maxlength="100"
                    placeholder="Weekly report"
                    value=draft.name.get_untracked() prop:value=move || draft.name.get()
                    on:input=move |ev| draft.name.set(event_target_value(&ev)) />
                <Problem id=id("name-error") message=saved("name") />
            </div>
            <div>
                <label class="label" for=id("preset")>"Repeats"</label>
                <select class="input" id=id("preset")
                    prop:value=move || draft.preset.get()
                    on:change=move |ev| {
                        draft.preset.set(event_target_value(&ev));
                        draft.apply_preset();
                    }>
                    <option value="hourly" selected=move || draft.preset.get() == "hourly">"Hourly (on the hour)"</option>
                    <option value="daily" selected=move || draft.preset.get() == "daily">"Daily"</option>
                    <option value="weekly" selected=move || draft.preset.get() == "weekly">"Weekly"</option>
                    <option value="custom" selected=move || draft.preset.get() == "custom">"Custom (cron expression)"</option>
                </select>
            </div>
            <div class="flex flex-wrap gap-3">
                <Show when=shows_day>
                    <div>
                        <label class="label" for=id("weekday")>"Day of the week"</label>
                        <select class="input" id=id("weekday")
                            prop:value=move || draft.weekday.get()
                            on:change=move |ev| {
                                draft.weekday.set(event_target_value(&ev));
                                draft.apply_preset();
                            }>
                            {WEEKDAYS.iter().map(|&(v, label)| view! {
                                <option value=v selected=move || draft.weekday.get() == v>{label}</option>
                            }).collect_view()}
                        </select>
                    </div>
                </Show>
                <Show when=shows_time>
                    <div>
                        <label class="label" for=id("time")>"Time of day"</label>
                        <input class="input" type="time" id=id("time")
                            value=draft.time.get_untracked() prop:value=move || draft.time.get()
                            on:input=move |ev| {
                                draft.time.set(event_target_value(&ev));
                                draft.apply_preset();
                            } />
                    </div>
                </Show>
            </div>
            <div>
                <label class="label" for=id("cron")>"Cron expression"</label>
                <input class="input font-mono" id=id("cron") name="cron" required maxlength="200"
                    aria-describedby=id("cron-help") autocomplete="off" spellcheck="false"
                    value=draft.cron.get_untracked() prop:value=move || draft.cron.get()
                    on:input=move |ev| {
                        let cron = event_target_value(&ev);
                        let (preset, time, weekday) = preset_of(&cron);
                        if draft.preset.get_untracked() != "custom" || preset != "custom" {
                            draft.preset.set(preset.to_owned());
                            if let Some(time) = time { draft.time.set(time); }
                            if let Some(day) = weekday { draft.weekday.set(day); }
                        }
                        draft.cron.set(cron);
                    } />
                <p id=id("cron-help") class="mt-1 text-xs text-slate-500">
                    "Minute, hour, day of month, month, day of week: " <code>"30 9 * * 1-5"</code>
                    " is 09:30 on weekdays. " <code>"@daily"</code> " and " <code>"@weekly"</code> " work too."
                </p>
                <Problem id=id("cron-error") message=live_error("cron") />
            </div>
            <div>
                <label class="label" for=id("timezone")>"Time zone"</label>
                <input class="input" id=id("timezone") name="timezone" list=zones.clone() maxlength="64"
                    autocomplete="off" spellcheck="false"
                    value=draft.timezone.get_untracked() prop:value=move || draft.timezone.get()
                    on:input=move |ev| {
                        draft.zone_given.set(true);
                        draft.timezone.set(event_target_value(&ev));
                    } />
                <datalist id=zones>
                    {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                </datalist>
                <Problem id=id("timezone-error") message=live_error("timezone") />
            </div>
            <div class="sm:col-span-2 rounded-md border border-slate-200 bg-slate-50 p-3 text-sm dark:border-slate-800 dark:bg-slate-900"
                aria-live="polite" data-testid="schedule-preview">
                {move || match preview.get() {
                    Some(Ok(p)) => {
                        let count = p.next_runs.len();
                        view! {
                            <p class="font-medium" data-testid="schedule-description">{p.description.clone()}</p>
                            {if count == 0 {
                                view! { <p class="mt-1 text-slate-500">"It will not run again."</p> }.into_any()
                            } else {
                                view! {
                                    <p class="mt-2 text-xs text-slate-500">"Next runs, in the schedule's time zone:"</p>
                                    <ol class="mt-1 list-inside list-decimal font-mono text-xs" data-testid="schedule-next-runs">
                                        {p.next_runs.into_iter().map(|t| {
                                            let shown = readable_time(&t);
                                            view! { <li><time datetime=t>{shown}</time></li> }
                                        }).collect_view()}
                                    </ol>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                    Some(Err(_)) => view! {
                        <p class="text-slate-500">{move || preview_problem().unwrap_or_else(|| "Fix the expression or the zone to see when it runs.".to_owned())}</p>
                    }.into_any(),
                    None => view! { <p class="text-slate-500">"Write an expression to see when it runs."</p> }.into_any(),
                }}
            </div>
            <div class="sm:col-span-2">
                <label class="label" for=id("message")>"Message"</label>
                <textarea class="input text-sm" id=id("message") name="message" rows="4" required
                    aria-describedby=id("message-help")
                    placeholder="Summarise last week's sales ({{date}}) and write the report."
                    prop:value=move || draft.message.get()
                    on:input=move |ev| draft.message.set(event_target_value(&ev))>{draft.message.get_untracked()}</textarea>
                <p id=id("message-help") class="mt-1 text-xs text-slate-500">
                    "Each run starts a task with this message. " <code>"{{date}}"</code> ", " <code>"{{datetime}}"</code>
                    " and " <code>"{{previousRunAt}}"</code> " are filled in with the run's time in the schedule's zone."
                </p>
                <Problem id=id("message-error") message=saved("message") />
            </div>
            <div class="sm:col-span-2">
                <label class="label" for=id("env")>"Environment variables"</label>
                <textarea class="input font-mono text-sm" id=id("env") name="env" rows="3"
                    aria-describedby=id("env-help") spellcheck="false"
                    placeholder="REPORT_DIR=reports\nREGION=eu"
                    prop:value=move || draft.env.get()
                    on:input=move |ev| draft.env.set(event_target_value(&ev))>{draft.env.get_untracked()}</textarea>
                <p id=id("env-help") class="mt-1 text-xs text-slate-500">
                    "One KEY=value a line, for each run's sandbox (the same placeholders work). Not for secrets: use the project secrets below."
                </p>
                <Problem id=id("env-error") message=saved("env") />
            </div>
            <div>
                <label class="label" for=id("auto")>"Tool calls"</label>
                <select class="input" id=id("auto") name="auto_execute"
                    prop:value=move || draft.auto_execute.get()
                    on:change=move |ev| draft.auto_execute.set(event_target_value(&ev))>
                    <option value="" selected=move || draft.auto_execute.get().is_empty()>"As the project's setting"</option>
                    <option value="true" selected=move || draft.auto_execute.get() == "true">"Run without asking"</option>
                    <option value="false" selected=move || draft.auto_execute.get() == "false">"Wait for approval"</option>
                </select>
            </div>
            <div>
                <label class="label" for=id("ends")>"Ends (optional)"</label>
                <input class="input" type="datetime-local" id=id("ends") name="ends_at"
                    aria-describedby=id("ends-help")
                    value=draft.ends_at.get_untracked() prop:value=move || draft.ends_at.get()
                    on:input=move |ev| draft.ends_at.set(event_target_value(&ev)) />
                <p id=id("ends-help") class="mt-1 text-xs text-slate-500">"In the schedule's time zone. No run after it."</p>
                <Problem id=id("ends-error") message=saved("endsAt") />
            </div>
            <fieldset class="sm:col-span-2 flex flex-wrap gap-x-6 gap-y-2 text-sm">
                <legend class="sr-only">"Options"</legend>
                <label class="inline-flex items-center gap-2">
                    <input type="checkbox" name="enabled" value="on"
                        checked=draft.enabled.get_untracked() prop:checked=move || draft.enabled.get()
                        on:change=move |ev| draft.enabled.set(event_target_checked(&ev)) />
                    "Enabled"
                </label>
                <label class="inline-flex items-center gap-2">
                    <input type="checkbox" name="skip_missed" value="on"
                        checked=draft.skip_missed.get_untracked() prop:checked=move || draft.skip_missed.get()
                        on:change=move |ev| draft.skip_missed.set(event_target_checked(&ev)) />
                    "Skip missed runs"
                    <span class="text-xs text-slate-500">"(else the latest one missed while the server was down runs once)"</span>
                </label>
                <label class="inline-flex items-center gap-2">
                    <input type="checkbox" name="allow_overlap" value="on"
                        checked=draft.allow_overlap.get_untracked() prop:checked=move || draft.allow_overlap.get()
                        on:change=move |ev| draft.allow_overlap.set(event_target_checked(&ev)) />
                    "Allow overlapping runs"
                </label>
            </fieldset>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_write_their_expressions() {
        assert_eq!(cron_of("hourly", "", ""), Some("0 * * * *".to_owned()));
        assert_eq!(cron_of("daily", "09:30", ""), Some("30 9 * * *".to_owned()));
        assert_eq!(
            cron_of("weekly", "09:00", "1"),
            Some("0 9 * * 1".to_owned())
        );
        assert_eq!(cron_of("weekly", "25:00", "1"), None);
        assert_eq!(cron_of("custom", "09:00", "1"), None);
    }

    #[test]
    fn expressions_read_back_as_presets() {
        assert_eq!(preset_of("0 * * * *"), ("hourly", None, None));
        assert_eq!(
            preset_of("30 9 * * *"),
            ("daily", Some("09:30".to_owned()), None)
        );
        assert_eq!(
            preset_of("0 9 * * MON"),
            ("weekly", Some("09:00".to_owned()), Some("1".to_owned()))
        );
        assert_eq!(preset_of("*/5 * * * *"), ("custom", None, None));
        assert_eq!(preset_of("0 9 1 * *"), ("custom", None, None));
    }

    #[test]
    fn times_read_with_their_weekday_and_offset() {
        assert_eq!(
            readable_time("2026-12-14T09:00:00+01:00"),
            "Mon 2026-12-14 09:00 (UTC+01:00)"
        );
        assert_eq!(
            readable_time("2000-02-29T23:59:00.123Z"),
            "Tue 2000-02-29 23:59 (UTC)"
        );
        assert_eq!(readable_time("soon"), "soon");
    }
}
