//! Turns chosen claims into an authorizer context API Gateway accepts.
//!
//! API Gateway refuses (with a 500) any context value that is not a string, number or boolean, so lists are
//! joined with `,` and objects become compact JSON text. `null` and absent claims are left out, and values
//! and the whole context are bounded: a value over the bound is dropped whole, never cut short, so the
//! backend never sees a silently truncated group list.

use serde_json::{Map, Value};

pub const MAX_VALUE_BYTES: usize = 1024;
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// The context for `names`, and how many claims were left out for size.
pub fn from_claims(claims: &Map<String, Value>, names: &[String]) -> (Map<String, Value>, usize) {
    let mut context = Map::new();
    let mut used = 0;
    let mut dropped = 0;
    for name in names {
        let Some(value) = claims.get(name).and_then(flatten) else { continue };
        let size = name.len() + value_len(&value);
        if value_len(&value) > MAX_VALUE_BYTES || used + size > MAX_CONTEXT_BYTES {
            dropped += 1;
            continue;
        }
        used += size;
        context.insert(name.clone(), value);
    }
    (context, dropped)
}

fn flatten(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(value.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter(|item| !item.is_null())
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            Some(Value::String(parts.join(",")))
        }
        Value::Object(_) => Some(Value::String(value.to_string())),
    }
}

fn value_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flattens_to_scalars_and_skips_nulls() {
        let claims = json!({
            "sub": "u1", "n": 3, "b": true, "groups": ["a", "b"], "obj": {"k": [1]}, "none": null, "mixed": [1, null, "x"]
        });
        let (context, dropped) = from_claims(
            claims.as_object().unwrap(),
            &names(&["sub", "n", "b", "groups", "obj", "none", "absent", "mixed"]),
        );
        assert_eq!(
            Value::Object(context),
            json!({"sub": "u1", "n": 3, "b": true, "groups": "a,b", "obj": "{\"k\":[1]}", "mixed": "1,x"})
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn oversize_values_are_dropped_whole_and_the_total_is_bounded() {
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        let medium = "y".repeat(MAX_VALUE_BYTES - 10);
        let claims = json!({"big": big, "a": medium, "b": medium, "c": medium, "d": medium, "e": medium});
        let (context, dropped) = from_claims(claims.as_object().unwrap(), &names(&["big", "a", "b", "c", "d", "e"]));
        assert!(!context.contains_key("big"));
        assert_eq!(context.len(), 4, "four values of 1015 bytes fit in 4096");
        assert!(!context.contains_key("e"));
        assert_eq!(dropped, 2);
        let total: usize = context.iter().map(|(k, v)| k.len() + value_len(v)).sum();
        assert!(total <= MAX_CONTEXT_BYTES);
    }
}
