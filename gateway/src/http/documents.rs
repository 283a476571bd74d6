//! Parsed documents, kept by their text: front-ends send the same few documents again and
//! again (with other variables), and parsing one costs more than the rest of a cached chain
//! request's CPU. Only documents that passed the budget checks are kept, so a hit skips them
//! too; the cache is bounded in entries and in bytes of text.
//!
//! A kept document also remembers whether it passed validation against each schema (with and
//! without introspection). Validation depends on the request only through its variables'
//! values; a later request whose variables plainly have their declared types
//! (`variables_plainly_conform`) runs on the schema that skips the rules already passed
//! (`ValidationMode::Fast`: the cost and depth limits are still computed with the request's
//! variables). Anything else is validated again in full, with today's messages.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{BaseType, DocumentOperations, ExecutableDocument, Type};
use lru::LruCache;
use serde_json::{Map, Value};

use crate::graphql::budget::{self, OverBudget};

/// Documents kept at most.
const ENTRIES: usize = 2_000;
/// Bytes of document text kept at most (a document's parsed form is a few times its text).
const BYTES: usize = 4 << 20;
/// Longer documents are parsed every time (they would crowd out the rest).
const MAX_KEPT_BYTES: usize = 64 << 10;

/// Why a document cannot run.
#[derive(Debug)]
pub enum Refused {
    /// Over its budget (`LIMIT_EXCEEDED`).
    Budget(OverBudget),
    /// Not a GraphQL document (`BAD_USER_INPUT`), with the parser's message.
    Syntax(String),
}

#[derive(Clone)]
pub struct Documents(Arc<Mutex<Kept>>);

struct Kept {
    documents: LruCache<Arc<str>, KeptDocument>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

struct KeptDocument {
    document: Arc<ExecutableDocument>,
    query_hash: Arc<str>,
    /// Passed validation against the schema without introspection `[0]`, with it `[1]`.
    validated: [bool; 2],
}

/// A document ready to run, and whether it passed validation against each schema before.
pub struct Parsed {
    pub document: ExecutableDocument,
    /// The text's `hub::audit::query_hash`, computed once per kept document.
    pub query_hash: Arc<str>,
    validated: [bool; 2],
}

impl Parsed {
    /// Whether this document passed validation against the schema `open` names before.
    pub fn validated_before(&self, open: bool) -> bool {
        self.validated[usize::from(open)]
    }
}

impl Default for Documents {
    fn default() -> Self {
        Documents(Arc::new(Mutex::new(Kept {
            documents: LruCache::new(NonZeroUsize::new(ENTRIES).unwrap_or(NonZeroUsize::MIN)),
            bytes: 0,
            hits: 0,
            misses: 0,
        })))
    }
}

impl Documents {
    /// `query` parsed and within its budget (nesting checked on the text before parsing, field
    /// selections after), from the cache when it was seen before.
    pub fn parse(&self, query: &str) -> Result<Parsed, Refused> {
        if let Ok(mut kept) = self.0.lock() {
            let found = kept
                .documents
                .get(query)
                .map(|k| (k.document.clone(), k.query_hash.clone(), k.validated));
            match found {
                Some((document, query_hash, validated)) => {
                    kept.hits += 1;
                    return Ok(Parsed {
                        document: ExecutableDocument::clone(&document),
                        query_hash,
                        validated,
                    });
                }
                None => kept.misses += 1,
            }
        }
        budget::check_nesting(query).map_err(Refused::Budget)?;
        let document = async_graphql::parser::parse_query(query).map_err(|e| Refused::Syntax(e.to_string()))?;
        budget::check_selections(&document).map_err(Refused::Budget)?;
        let query_hash: Arc<str> = Arc::from(hub::audit::query_hash(query));
        if query.len() <= MAX_KEPT_BYTES {
            self.keep(query, &document, &query_hash);
        }
        Ok(Parsed {
            document,
            query_hash,
            validated: [false; 2],
        })
    }

    /// Notes that `query` passed validation against the schema `open` names.
    pub fn passed_validation(&self, query: &str, open: bool) {
        if let Ok(mut kept) = self.0.lock() {
            if let Some(k) = kept.documents.peek_mut(query) {
                k.validated[usize::from(open)] = true;
            }
        }
    }

    fn keep(&self, query: &str, document: &ExecutableDocument, query_hash: &Arc<str>) {
        let Ok(mut kept) = self.0.lock() else { return };
        if kept.documents.contains(query) {
            return;
        }
        kept.bytes += query.len();
        let document = KeptDocument {
            document: Arc::new(document.clone()),
            query_hash: query_hash.clone(),
            validated: [false; 2],
        };
        if let Some((old, _)) = kept.documents.push(Arc::from(query), document) {
            kept.bytes -= old.len();
        }
        while kept.bytes > BYTES {
            match kept.documents.pop_lru() {
                Some((old, _)) => kept.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// `(hits, misses)` since start.
    pub fn lookups(&self) -> (u64, u64) {
        self.0.lock().map(|k| (k.hits, k.misses)).unwrap_or_default()
    }
}

/// Whether every variable the selected operation declares is given a value that plainly has
/// its declared type: a string for `String` or `ID`, an integer for `Int` or `ID`, a boolean
/// for `Boolean`, lists of such. `false` whenever that is not plain — an operation not
/// selected unambiguously, a missing or null value (defaults and nullability have rules of
/// their own), an enum, an input object, a float, a custom scalar: those are validated in full.
pub fn variables_plainly_conform(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: Option<&Map<String, Value>>,
) -> bool {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return false,
        },
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => match operations.values().next() {
            Some(operation) => operation,
            None => return false,
        },
        _ => return false,
    };
    operation.node.variable_definitions.iter().all(|definition| {
        let definition = &definition.node;
        variables
            .and_then(|v| v.get(definition.name.node.as_str()))
            .is_some_and(|value| plainly_has_type(value, &definition.var_type.node))
    })
}

fn plainly_has_type(value: &Value, ty: &Type) -> bool {
    match (&ty.base, value) {
        (BaseType::List(item), Value::Array(items)) => items.iter().all(|i| plainly_has_type(i, item)),
        (BaseType::Named(name), value) => match (name.as_str(), value) {
            ("String" | "ID", Value::String(_)) | ("Boolean", Value::Bool(_)) => true,
            ("Int" | "ID", Value::Number(n)) => n.is_i64(),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_refusals_are_not_kept() {
        let documents = Documents::default();
        let query = "query Q($id: ID!) { case(id: $id) { sourceKey } }";
        let first = documents.parse(query).expect("parses");
        let again = documents.parse(query).expect("parses");
        assert_eq!(format!("{:?}", first.document), format!("{:?}", again.document));
        let hash = hub::audit::query_hash(query);
        assert_eq!((&*first.query_hash, &*again.query_hash), (hash.as_str(), hash.as_str()));
        assert_eq!(documents.lookups(), (1, 1));
        assert!(matches!(documents.parse("{ case("), Err(Refused::Syntax(_))));
        let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert!(matches!(documents.parse(&deep), Err(Refused::Budget(_))));
        assert!(
            matches!(documents.parse(&deep), Err(Refused::Budget(_))),
            "still refused"
        );
        assert_eq!(documents.lookups(), (1, 4));
    }

    #[test]
    fn a_document_remembers_the_schemas_it_passed_validation_against() {
        let documents = Documents::default();
        let query = "{ __typename }";
        let parsed = documents.parse(query).expect("parses");
        assert!(!parsed.validated_before(false) && !parsed.validated_before(true));
        documents.passed_validation(query, false);
        let parsed = documents.parse(query).expect("parses");
        assert!(parsed.validated_before(false) && !parsed.validated_before(true));
        documents.passed_validation("{ unknown }", true);
        assert!(!documents.parse("{ unknown }").expect("parses").validated_before(true));
    }

    #[test]
    fn only_plainly_typed_variables_skip_validation() {
        let conform = |query: &str, operation: Option<&str>, variables: Value| {
            let document = async_graphql::parser::parse_query(query).expect("parses");
            variables_plainly_conform(&document, operation, variables.as_object())
        };
        let q = "query($id: ID!, $n: Int, $on: Boolean!, $keys: [String!]!) { a }";
        let good = serde_json::json!({"id": "7", "n": 3, "on": true, "keys": ["a", "b"]});
        assert!(conform(q, None, good.clone()));
        assert!(conform(
            q,
            None,
            serde_json::json!({"id": 7, "n": -3, "on": false, "keys": []})
        ));
        for (name, bad) in [
            ("id", serde_json::json!(1.5)),
            ("id", serde_json::json!(true)),
            ("id", Value::Null),
            ("n", serde_json::json!("3")),
            ("n", Value::Null),
            ("on", serde_json::json!("true")),
            ("keys", serde_json::json!("a")),
            ("keys", serde_json::json!(["a", null])),
            ("keys", serde_json::json!([1])),
        ] {
            let mut variables = good.clone();
            variables[name] = bad.clone();
            assert!(!conform(q, None, variables), "{name}: {bad}");
        }
        let mut missing = good.clone();
        missing.as_object_mut().expect("a map").remove("n");
        assert!(!conform(q, None, missing), "a missing value is validated in full");
        assert!(!conform(q, None, Value::Null), "no variables at all");
        assert!(!conform(
            "query($f: CaseFilter) { a }",
            None,
            serde_json::json!({"f": {}})
        ));
        assert!(!conform("query($d: Float!) { a }", None, serde_json::json!({"d": 1})));
        assert!(conform("{ a }", None, Value::Null), "nothing to conform");
        let two = "query A($id: ID!) { a } query B { b }";
        assert!(conform(two, Some("A"), serde_json::json!({"id": "1"})));
        assert!(conform(two, Some("B"), Value::Null));
        assert!(!conform(two, None, Value::Null), "no operation selected");
        assert!(!conform(two, Some("C"), Value::Null), "no such operation");
        assert!(
            !conform("{ a }", Some("A"), Value::Null),
            "a name for an anonymous operation"
        );
    }

    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let documents = Documents::default();
        let padding = "#".repeat(60_000);
        for i in 0..100 {
            documents.parse(&format!("{padding}\n{{ f{i} }}")).expect("parses");
        }
        let kept = documents.0.lock().unwrap();
        assert!(kept.bytes <= BYTES, "{} bytes", kept.bytes);
        assert!(kept.documents.len() < 100);
    }
}
