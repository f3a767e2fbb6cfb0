//! The body of a task's create and follow-up: JSON, or multipart with files. One extractor
//! reads both, so the two endpoints take their fields the same way: JSON whole, multipart
//! field by field with each file streamed into the task's workspace as it arrives.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use protocol::error::{ApiError, ErrorCode};
use protocol::task::input::{CreateTask, FollowUp};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ErrorResponse;
use crate::http::AppState;
use crate::http::extract::ApiJson;
use crate::services::tasks::Draft;

/// JSON bodies and the text fields of a multipart body together.
const TEXT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A body whose text fields fill `T`: the JSON form of the same input.
pub trait FormFields: Default {
    /// Takes one multipart text field; unknown names are ignored, as JSON ignores them.
    fn set(&mut self, name: &str, text: String) -> Result<(), ApiError>;
}

impl FormFields for CreateTask {
    fn set(&mut self, name: &str, text: String) -> Result<(), ApiError> {
        match name {
            "message" => self.message = Some(text),
            "systemPrompt" => self.system_prompt = Some(text),
            "showInHistory" => self.show_in_history = Some(parse_bool(name, &text)?),
            "autoExecute" => self.auto_execute = Some(parse_bool(name, &text)?),
            "env" => self.env = Some(json_field(name, &text)?),
            "secrets" => self.secrets = Some(json_field(name, &text)?),
            "model" => self.model = Some(text),
            "projectSecrets" => {
                self.project_secrets = Some(
                    serde_json::from_value(json_field(name, &text)?).map_err(|_| {
                        ApiError::field(name, "`projectSecrets` must be a JSON array of names.")
                    })?,
                )
            }
            _ => {}
        }
        Ok(())
    }
}

impl FormFields for FollowUp {
    fn set(&mut self, name: &str, text: String) -> Result<(), ApiError> {
        if name == "message" {
            self.message = Some(text);
        }
        Ok(())
    }
}

/// A task's input, JSON or multipart; `read` turns either into `T`.
pub enum TaskForm<T> {
    Json(T),
    Multipart(Multipart),
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for TaskForm<T> {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = is_multipart(req.headers());
        let req = limited(state, req, multipart);
        if multipart {
            Multipart::from_request(req, state)
                .await
                .map(Self::Multipart)
                .map_err(|e| ErrorResponse(ApiError::field("body", e.body_text())))
        } else {
            let ApiJson(body) = ApiJson::<T>::from_request(req, state).await?;
            Ok(Self::Json(body))
        }
    }
}

impl<T: FormFields> TaskForm<T> {
    /// The fields, with a multipart body's files streamed into `draft`'s upload.
    pub async fn read(self, state: &AppState, draft: &mut Draft) -> Result<T, ErrorResponse> {
        let mut multipart = match self {
            Self::Json(body) => return Ok(body),
            Self::Multipart(m) => m,
        };
        let limits = state.services.config().uploads.clone();
        let mut fields = T::default();
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "files" || name == "files[]" || field.file_name().is_some() {
                let file_name = field.file_name().unwrap_or("upload").to_owned();
                draft
                    .upload(&limits)?
                    .add(&file_name, field)
                    .await
                    .map_err(|e| ErrorResponse(e.to_api_error()))?;
            } else {
                let text = read_text(field, &name).await?;
                fields.set(&name, text).map_err(ErrorResponse)?;
            }
        }
        Ok(fields)
    }
}

/// The most a text field may hold, by name, so none can take the whole body's allowance: the
/// message and prompt are bounded in characters by the task's rules, `env`/`secrets` by their
/// entries; anything else is small.
fn text_field_limit(name: &str) -> usize {
    match name {
        "message" | "systemPrompt" => 1024 * 1024,
        "env" | "secrets" => 8 * 1024 * 1024,
        _ => 64 * 1024,
    }
}

/// A multipart text field, read up to its bound.
async fn read_text(
    mut field: axum::extract::multipart::Field<'_>,
    name: &str,
) -> Result<String, ErrorResponse> {
    let limit = text_field_limit(name);
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > limit {
            let mut e = ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The field `{name}` is over {} KB.", limit / 1024),
            );
            e.fields.insert(name.to_owned(), e.message.clone());
            return Err(ErrorResponse(e));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        ErrorResponse(ApiError::field(
            name,
            format!("`{name}` is not UTF-8 text."),
        ))
    })
}

/// Bounds a request body: JSON to `TEXT_BODY_LIMIT`, multipart to its files plus that. Past
/// the bound, reading fails and the request is answered `PAYLOAD_TOO_LARGE`.
fn limited(state: &AppState, req: Request, multipart: bool) -> Request {
    let limit = if multipart {
        let u = &state.services.config().uploads;
        usize::try_from(u.max_file_bytes.saturating_mul(u.max_files as u64))
            .unwrap_or(usize::MAX)
            .saturating_add(TEXT_BODY_LIMIT)
    } else {
        TEXT_BODY_LIMIT
    };
    req.map(|b| Body::new(http_body_util::Limited::new(b, limit)))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn parse_bool(field: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::field(
            field,
            format!("`{field}` must be \"true\" or \"false\"."),
        )),
    }
}

fn json_field(field: &str, value: &str) -> Result<Value, ApiError> {
    if value.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(value).map_err(|_| {
        let mut e = ApiError::new(
            ErrorCode::InvalidEnv,
            format!("`{field}` must be a JSON object of strings, like {{\"NAME\": \"value\"}}."),
        );
        e.fields.insert(field.to_owned(), e.message.clone());
        e
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ErrorResponse {
    let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::PayloadTooLarge
    } else {
        ErrorCode::ValidationError
    };
    ErrorResponse(ApiError::new(
        code,
        format!("The multipart body could not be read: {}", e.body_text()),
    ))
}
