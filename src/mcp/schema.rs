//! MCP tools' input schemas: made acceptable to every model provider, and used to check a
//! call's arguments before they are sent (a model's mistake is answered at once, in words it
//! can act on, instead of becoming a server error).

use serde_json::{Map, Value};

/// Keywords that only describe the document itself; some providers refuse them.
const DROPPED: &[&str] = &["$schema", "$id"];

/// `schema` as an object schema every provider takes: `type: object` with `properties`.
pub fn clean_for_providers(schema: Value) -> Value {
    let mut map = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for key in DROPPED {
        map.remove(*key);
    }
    map.insert("type".into(), Value::String("object".into()));
    map.entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    Value::Object(map)
}

/// Whether `args` fit `schema`; the first problems, with where they are, when they do not.
/// A schema that cannot be compiled checks nothing (the server still checks).
pub fn check_arguments(schema: &Value, args: &Value) -> Result<(), String> {
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Ok(());
    };
    let problems: Vec<String> = validator
        .iter_errors(args)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_become_object_schemas_without_document_keywords() {
        let cleaned = clean_for_providers(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"a": {"type": "number"}},
            "required": ["a"],
        }));
        assert_eq!(
            cleaned,
            json!({"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]})
        );
        assert_eq!(
            clean_for_providers(json!(null)),
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
        assert!(check_arguments(&schema, &json!({"a": 1, "b": 2})).is_ok());
        let problem = check_arguments(&schema, &json!({"a": "one"})).unwrap_err();
        assert!(problem.contains("/a") && problem.contains("b"), "{problem}");
    }
}
