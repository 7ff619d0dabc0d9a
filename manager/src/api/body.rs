//! Request bodies, parsed here rather than by axum's `Json` so that a bad one gets the API's
//! JSON error naming the field.

use serde::de::DeserializeOwned;

use super::ApiError;

/// Parses a JSON body into `T`; a problem is a 422 naming the field.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path == "?" {
            "(body)".into()
        } else {
            path
        };
        ApiError::field(&field, None, e.inner().to_string())
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::field("(body)", None, e.to_string()))?;
    Ok(value)
}
