//! One model turn: the call with its retries, its answer streamed into the log as it arrives
//! (text coalesced, thoughts as they end, secrets redacted), and the answer stored.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use protocol::stream::{ContentEvent, RunStatus, StatusEvent, StreamEvent};

use super::{Run, RunError};
use crate::ledger::{Answer, TurnUsage};
use crate::llm::{self, LlmError, ModelRef, Part, Provider, StopReason};
use crate::runtime::conversation;

/// What one streamed model turn produced.
pub(super) struct Turn {
    text: String,
    thinking: Vec<Part>,
    calls: Vec<llm::ToolCall>,
    usage: llm::Usage,
    stop: StopReason,
}

/// An answer being streamed: the raw text, what of it was logged, and its thoughts.
struct Streaming {
    raw_text: String,
    sent_text: String,
    thinking: Vec<Part>,
    thinking_now: String,
}

impl Run {
    /// One model call with retries. `Err(None)`: stopped for shutdown; `Err(Some)`: failed.
    pub(super) async fn model_turn(
        &self,
        provider: &dyn Provider,
        request: llm::Request,
    ) -> Result<Result<Turn, Option<LlmError>>, RunError> {
        let limits = &self.rt.config().tasks;
        let mut attempt = 0u32;
        loop {
            self.emit(vec![StreamEvent::Status(StatusEvent {
                status: RunStatus::Processing,
                message: None,
                attempt: (attempt > 0).then_some(attempt),
                delay_ms: None,
            })])
            .await?;
            match self.stream_turn(provider, request.clone()).await? {
                Ok(turn) => return Ok(Ok(turn)),
                Err(e) if e.is_transient() && attempt < limits.model_retries => {
                    attempt += 1;
                    let delay = retry_delay(&e, attempt, limits.retry_base_ms);
                    self.emit(vec![StreamEvent::Status(StatusEvent {
                        status: RunStatus::Retrying,
                        message: Some(self.redactor.redact(&e.to_string())),
                        attempt: Some(attempt),
                        delay_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
                    })])
                    .await?;
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.drain.cancelled() => return Ok(Err(None)),
                    }
                }
                Err(e) => return Ok(Err(Some(e))),
            }
        }
    }

    /// Streams one answer, logging text as it arrives (coalesced) and thoughts as they end.
    async fn stream_turn(
        &self,
        provider: &dyn Provider,
        request: llm::Request,
    ) -> Result<Result<Turn, LlmError>, RunError> {
        let mut stream = match provider.stream(request).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let coalesce = Duration::from_millis(self.rt.config().tasks.coalesce_ms);
        let mut s = Streaming {
            raw_text: String::new(),
            sent_text: String::new(),
            thinking: Vec::new(),
            thinking_now: String::new(),
        };
        let mut calls = Vec::new();
        let mut usage = llm::Usage::default();
        // The first piece goes out at once (time to first token); later ones are coalesced.
        let mut last_flush = Instant::now()
            .checked_sub(coalesce)
            .unwrap_or_else(Instant::now);
        let stop = loop {
            let wait = coalesce.saturating_sub(last_flush.elapsed());
            let item = if s.raw_text.len() > s.sent_text.len() {
                match tokio::time::timeout(wait, stream.next()).await {
                    Ok(item) => item,
                    Err(_) => {
                        self.flush_text(&mut s).await?;
                        last_flush = Instant::now();
                        continue;
                    }
                }
            } else {
                stream.next().await
            };
            let event = match item {
                None => {
                    return Ok(Err(LlmError::Transient {
                        message: "the model's stream ended before its answer was complete"
                            .to_owned(),
                        retry_after: None,
                    }));
                }
                Some(Err(e)) => return Ok(Err(e)),
                Some(Ok(ev)) => ev,
            };
            match event {
                llm::StreamEvent::TextDelta(t) => {
                    if !s.thinking_now.is_empty() {
                        self.end_thought(&mut s, None).await?;
                    }
                    s.raw_text.push_str(&t);
                    if last_flush.elapsed() >= coalesce {
                        self.flush_text(&mut s).await?;
                        last_flush = Instant::now();
                    }
                }
                llm::StreamEvent::ThinkingDelta(t) => s.thinking_now.push_str(&t),
                llm::StreamEvent::ThinkingSignature(sig) => {
                    self.end_thought(&mut s, Some(sig)).await?;
                }
                llm::StreamEvent::ToolCall(c) => calls.push(c),
                llm::StreamEvent::Usage(u) => usage = u,
                llm::StreamEvent::End(reason) => break reason,
            }
        };
        if !s.thinking_now.is_empty() {
            self.end_thought(&mut s, None).await?;
        }
        // The rest of the text as a last partial, so partials add up to the whole answer.
        // Nothing follows, so nothing is held back as a possible secret's beginning.
        let whole = self.redactor.redact(&s.raw_text);
        if whole.len() > s.sent_text.len() && whole.starts_with(s.sent_text.as_str()) {
            self.emit(vec![StreamEvent::Content(ContentEvent {
                text: whole[s.sent_text.len()..].to_owned(),
                is_partial: true,
            })])
            .await?;
        }
        Ok(Ok(Turn {
            text: s.raw_text,
            thinking: s.thinking,
            calls,
            usage,
            stop,
        }))
    }

    async fn end_thought(
        &self,
        s: &mut Streaming,
        signature: Option<String>,
    ) -> Result<(), RunError> {
        let text = self.redactor.redact(&std::mem::take(&mut s.thinking_now));
        if !text.trim().is_empty() {
            self.emit(vec![StreamEvent::Thought(conversation::thought(&text))])
                .await?;
        }
        s.thinking.push(Part::Thinking { text, signature });
        Ok(())
    }

    /// Logs the text received since the last flush as one partial `content` event. Secrets
    /// are redacted from the whole text so far; a possible beginning of a secret at the end is
    /// held back until the next piece shows whether it is one.
    async fn flush_text(&self, s: &mut Streaming) -> Result<(), RunError> {
        let safe = self
            .redactor
            .strip_partial_tail(&self.redactor.redact(&s.raw_text));
        if safe.len() <= s.sent_text.len() || !safe.starts_with(s.sent_text.as_str()) {
            return Ok(());
        }
        let delta = safe[s.sent_text.len()..].to_owned();
        self.emit(vec![StreamEvent::Content(ContentEvent {
            text: delta,
            is_partial: true,
        })])
        .await?;
        s.sent_text = safe;
        Ok(())
    }

    /// Stores an answer: its message, its calls and its usage, with the whole text as the
    /// final `content` event. `upto` is the last message position the model was shown.
    pub(super) async fn store_turn(
        &self,
        model: &ModelRef,
        turn: Turn,
        upto: i64,
    ) -> Result<(), RunError> {
        let text = self.redactor.redact(&turn.text);
        let mut events = Vec::new();
        if !text.is_empty() {
            events.push(StreamEvent::Content(ContentEvent {
                text: text.clone(),
                is_partial: false,
            }));
        }
        if turn.stop == StopReason::MaxTokens && turn.calls.is_empty() {
            tracing::info!(task = %self.task.id, "the model's answer was cut at its output limit");
        }
        let mut parts = turn.thinking;
        parts.push(Part::Text { text });
        let calls = turn
            .calls
            .into_iter()
            .map(|c| llm::ToolCall {
                id: self.redactor.redact(&c.id),
                name: self.redactor.redact(&c.name),
                args: self.redactor.redact_json(c.args),
            })
            .collect();
        let answer = Answer {
            parts,
            calls,
            usage: TurnUsage {
                input_tokens: turn.usage.input_tokens,
                output_tokens: turn.usage.output_tokens,
                cost_usd: crate::llm::pricing::cost_usd(model, turn.usage),
            },
        };
        self.ledger()
            .record_answer(&self.claim, events, answer, upto)
            .await?;
        Ok(())
    }
}

fn retry_delay(e: &LlmError, attempt: u32, base_ms: u64) -> Duration {
    if let LlmError::Transient {
        retry_after: Some(d),
        ..
    } = e
    {
        return (*d).min(Duration::from_secs(120));
    }
    let exp = base_ms.saturating_mul(1u64 << Ord::min(attempt.saturating_sub(1), 10));
    // Jitter spreads retries of many tasks hitting the same rate limit.
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() {
        u64::from(u16::from_le_bytes(b)) % (exp / 4 + 1)
    } else {
        0
    };
    Duration::from_millis(Ord::min(exp + jitter, 60_000))
}
