//! The error answers every operation can give, added to the document after the routes are
//! registered: the API answers them uniformly (an envelope with a code), so each operation's
//! own description lists only what is particular to it. An answer an operation already
//! describes is left as it is.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorEnvelope"))),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error_response(description));
}

/// Adds to every operation the errors its shape allows.
pub fn add_standard_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (false, item.get.as_mut()),
            (true, item.put.as_mut()),
            (true, item.post.as_mut()),
            (true, item.delete.as_mut()),
            (true, item.patch.as_mut()),
        ];
        for (changes_state, op) in ops.into_iter().filter_map(|(c, o)| o.map(|o| (c, o))) {
            let params = op.parameters.as_deref().unwrap_or_default();
            let has_path = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let has_input = !params.is_empty() || op.request_body.is_some();
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if has_input {
                add(
                    op,
                    "400",
                    "VALIDATION_ERROR: a parameter or the body is not valid",
                );
            }
            if op.request_body.is_some() {
                add(op, "413", "PAYLOAD_TOO_LARGE: the body is over its limit");
            }
            if secured {
                add(op, "401", "UNAUTHORIZED: no valid credentials");
                add(
                    op,
                    "403",
                    "FORBIDDEN: the caller may not do this (role, or a cross-site request)",
                );
                // An id in the path, the query or the body, or the caller's default project,
                // may name nothing the caller can see.
                add(
                    op,
                    "404",
                    "NOT_FOUND: nothing the caller may see has this id",
                );
            } else if has_path {
                add(op, "404", "NOT_FOUND: nothing has this id");
            }
            if changes_state {
                add(
                    op,
                    "409",
                    "CONFLICT: valid, but the current state refuses it (a taken name, the last admin)",
                );
            }
            if path.starts_with("/api/v1/auth/") {
                add(op, "429", "RATE_LIMITED: too many attempts; retry later");
            }
            add(op, "500", "INTERNAL_ERROR: a failure on the server's side");
        }
    }
}
