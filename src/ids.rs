//! Identifiers for rows, sandboxes and scratch directories. Kept at the bottom of the crate so
//! every layer can mint one without reaching up into the services.

/// A new UUIDv7: time-ordered, so rows created together sort (and index) together.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
