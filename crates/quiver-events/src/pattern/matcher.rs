//! The compiled pattern tree and its walk over an event.

use serde_json::Value;

use super::cond::Cond;

/// One object level of a pattern: every field must match, and of each `$or` group at
/// least one alternative.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Node {
    pub fields: Vec<(String, Field)>,
    pub any_of: Vec<Vec<Node>>,
}

/// What a pattern says about one key of the event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    /// A nested object of conditions for the value under this key.
    Nested(Node),
    /// A list of conditions on the leaf value(s) under this key.
    Leaf(Vec<Cond>),
}

impl Node {
    /// `value` is the event's value at this level (`None` when absent). An array
    /// matches when one of its elements matches the whole level, so the fields that
    /// match come from the same element.
    pub fn matches(&self, value: Option<&Value>) -> bool {
        if let Some(Value::Array(items)) = value {
            if !items.is_empty() {
                return items.iter().any(|item| self.matches(Some(item)));
            }
        }
        let object = value.and_then(Value::as_object);
        self.fields
            .iter()
            .all(|(key, field)| field.matches(object.and_then(|o| o.get(key))))
            && self
                .any_of
                .iter()
                .all(|alternatives| alternatives.iter().any(|n| n.matches(value)))
    }
}

impl Field {
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Field::Nested(node) => node.matches(value),
            Field::Leaf(conds) => {
                let mut present = false;
                let hit = value.is_some_and(|v| {
                    any_leaf(v, &mut |leaf| {
                        present = true;
                        conds.iter().any(|c| c.matches_leaf(leaf))
                    })
                });
                hit || (!present && conds.iter().any(|c| matches!(c, Cond::Exists(false))))
            }
        }
    }
}

/// Whether `test` accepts one of the scalar values under a key: the value itself, or
/// the scalars of an array (at any depth). Objects are not leaves: conditions never
/// match an intermediate node. Stops at the first accepted leaf.
fn any_leaf(value: &Value, test: &mut dyn FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|i| any_leaf(i, test)),
        Value::Object(_) => false,
        scalar => test(scalar),
    }
}
