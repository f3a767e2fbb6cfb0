// LOCAL STUB (not committed) — replaced by branch `llm`.
use async_trait::async_trait;
use super::*;
pub struct Gemini;
impl Gemini { pub fn new(_h: reqwest::Client, _k: String, _b: Option<String>) -> Self { Self } }
#[async_trait]
impl Provider for Gemini { fn kind(&self) -> ProviderKind { ProviderKind::Gemini } async fn stream(&self, _r: Request) -> Result<EventStream, LlmError> { Err(LlmError::NotConfigured("stub".into())) } }
