//! Schemas written by hand where a derive cannot say what the server checks.

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{Object, Schema};

/// Entries an `env` or `secrets` object may have.
pub const ENV_MAX_ENTRIES: usize = 100;
/// Characters of one value.
pub const ENV_VALUE_MAX_CHARS: usize = 64 * 1024;

/// `env` and `secrets`: names a shell accepts, string values without NUL.
pub fn env_object() -> Object {
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(128))
        .pattern(Some(r"^[A-Za-z_][A-Za-z0-9_]*(?![\s\S])"))
        .build();
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(ENV_VALUE_MAX_CHARS))
        .pattern(Some(r"^(?![\s\S]*\x00)"))
        .build();
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Object,
            Type::Null,
        ]))
        .property_names(Some(Schema::Object(name)))
        .additional_properties(Some(AdditionalProperties::RefOr(
            utoipa::openapi::RefOr::T(Schema::Object(value)),
        )))
        .max_properties(Some(ENV_MAX_ENTRIES))
        .build()
}
