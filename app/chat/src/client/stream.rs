//! A task's event stream in the browser: through `EventSource` on the page's own server (the
//! session cookie goes along by itself), or through `fetch` where a bearer token must be sent
//! (`EventSource` cannot send headers), its bytes cut into frames by [`crate::sse`].
//!
//! Neither reconnects by itself. The browser's own reconnection would resend the whole
//! history after a stream that had no sequence numbers yet, and reopen a stream the server
//! closed because the run ended; the page reconnects instead, after the last sequence number
//! it applied, so nothing is lost or shown twice.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, EventSource, MessageEvent, ReadableStreamDefaultReader,
};

use protocol::error::ApiError;
use protocol::stream::StreamEvent;

use super::{Body, Client, Verb, enc, read_error};
use crate::sse::{SseFrame, SseParser};

/// One frame of the stream.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The event's sequence number (`id:`); stored messages have none.
    pub seq: Option<i64>,
    pub event: StreamEvent,
}

const EVENT_NAMES: [&str; 13] = [
    "history_message",
    "history_done",
    "status",
    "thought",
    "content",
    "tool_call",
    "tool_result",
    "subagent_start",
    "subagent_thought",
    "subagent_tool",
    "subagent_end",
    "error",
    "done",
];

/// The server sends a heartbeat every 15 s: a stream silent for this long is a connection
/// that died without closing (a laptop's lid, a lost network), and is treated as lost.
const STALL_MS: i32 = 45_000;

type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// Called at most once: taken out when the connection is lost.
type OnLost = Rc<RefCell<Option<Box<dyn Fn()>>>>;

/// An open stream; closed when dropped.
pub struct LiveStream {
    kind: Kind,
}

enum Kind {
    Source {
        source: EventSource,
        _listeners: Vec<Listener>,
    },
    Fetch(Option<AbortController>),
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Source { source, .. } => source.close(),
            Kind::Fetch(Some(abort)) => abort.abort(),
            Kind::Fetch(None) => {}
        }
    }
}

impl LiveStream {
    /// Opens the task's stream on the page's own server, after `after` when given. `on_frame`
    /// gets each event; `on_lost` is called once when the connection fails or the server
    /// ends it, and the stream is closed by then.
    pub fn open(
        task_id: &str,
        after: Option<i64>,
        on_frame: impl Fn(Frame) + 'static,
        on_lost: impl Fn() + 'static,
    ) -> Result<Self, ApiError> {
        let mut url = format!("/api/v1/tasks/{}/stream", enc(task_id));
        if let Some(after) = after {
            url.push_str(&format!("?after={after}"));
        }
        open_source(&url, on_frame, on_lost)
    }
}

pub(super) fn open_source(
    url: &str,
    on_frame: impl Fn(Frame) + 'static,
    on_lost: impl Fn() + 'static,
) -> Result<LiveStream, ApiError> {
    let source = EventSource::new(url).map_err(|_| ApiError::internal())?;
    let on_frame = Rc::new(on_frame);
    let on_lost: OnLost = Rc::new(RefCell::new(Some(Box::new(on_lost))));
    let mut listeners = Vec::with_capacity(EVENT_NAMES.len());
    for name in EVENT_NAMES {
        let on_frame = Rc::clone(&on_frame);
        let on_lost = Rc::clone(&on_lost);
        let source_ref = source.clone();
        let listener: Listener = Closure::new(move |ev: web_sys::Event| {
            match ev.dyn_ref::<MessageEvent>().and_then(|m| {
                let data = m.data().as_string()?;
                Some((m.last_event_id(), data))
            }) {
                Some((id, data)) => {
                    let Some(event) = StreamEvent::parse(name, &data) else {
                        return;
                    };
                    // `lastEventId` carries over from earlier frames; stored messages
                    // have none of their own (`history_done` and events do).
                    let seq = if matches!(event, StreamEvent::HistoryMessage(_)) {
                        None
                    } else {
                        id.parse::<i64>().ok()
                    };
                    on_frame(Frame { seq, event });
                }
                // A plain `error` event: the connection failed or was closed.
                None => {
                    source_ref.close();
                    if let Some(f) = on_lost.borrow_mut().take() {
                        f();
                    }
                }
            }
        });
        source
            .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
            .map_err(|_| ApiError::internal())?;
        listeners.push(listener);
    }
    Ok(LiveStream {
        kind: Kind::Source {
            source,
            _listeners: listeners,
        },
    })
}

pub(super) fn open_fetch(
    client: Client,
    path: String,
    on_frame: impl Fn(Frame) + 'static,
    on_lost: impl Fn(Option<ApiError>) + 'static,
) -> LiveStream {
    let abort = AbortController::new().ok();
    let signal = abort.as_ref().map(AbortController::signal);
    wasm_bindgen_futures::spawn_local(async move {
        let lost = read_fetch(&client, &path, signal.as_ref(), &on_frame).await;
        // Dropped by its owner: nobody is waiting to hear how it ended.
        if !signal.as_ref().is_some_and(AbortSignal::aborted) {
            on_lost(lost);
        }
    });
    LiveStream {
        kind: Kind::Fetch(abort),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

/// A promise that resolves to `undefined` after `ms`.
fn after_ms(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    })
}

/// Reads the stream until it ends; answers the server's error if it refused it.
async fn read_fetch(
    client: &Client,
    path: &str,
    signal: Option<&AbortSignal>,
    on_frame: &dyn Fn(Frame),
) -> Option<ApiError> {
    // A network failure is for the caller to retry; a refusal is for it to show.
    let resp = client
        .respond(Verb::Get, path, Body::Empty, signal)
        .await
        .ok()?;
    if !resp.ok() {
        return Some(read_error(resp).await);
    }
    let body = resp.body()?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut parser = SseParser::new();
    loop {
        let next = Promise::race(&js_sys::Array::of2(&reader.read(), &after_ms(STALL_MS)));
        let chunk = JsFuture::from(next).await.ok()?;
        if chunk.is_undefined() {
            // Stalled: let the connection go, and the caller open a new one.
            let _ = reader.cancel();
            return None;
        }
        let done = Reflect::get(&chunk, &JsValue::from_str("done")).ok()?;
        if done.is_truthy() {
            return None;
        }
        let value = Reflect::get(&chunk, &JsValue::from_str("value")).ok()?;
        let bytes = Uint8Array::new(&value).to_vec();
        for frame in parser.push(&bytes) {
            if signal.is_some_and(AbortSignal::aborted) {
                return None;
            }
            deliver(frame, on_frame);
        }
    }
}

fn deliver(frame: SseFrame, on_frame: &dyn Fn(Frame)) {
    let Some(event) = StreamEvent::parse(&frame.event, &frame.data) else {
        return;
    };
    // Stored messages carry no sequence number of their own.
    let seq = match event {
        StreamEvent::HistoryMessage(_) => None,
        _ => frame.id.and_then(|id| id.parse::<i64>().ok()),
    };
    on_frame(Frame { seq, event });
}
