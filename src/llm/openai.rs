// LOCAL STUB (not committed) — replaced by branch `llm`.
use async_trait::async_trait;
use super::*;
pub struct OpenAi;
impl OpenAi { pub fn new(_h: reqwest::Client, _k: Option<String>, _b: Option<String>) -> Self { Self } }
#[async_trait]
impl Provider for OpenAi { fn kind(&self) -> ProviderKind { ProviderKind::OpenAi } async fn stream(&self, _r: Request) -> Result<EventStream, LlmError> { Err(LlmError::NotConfigured("stub".into())) } }
