//! Parsed documents, kept by their text: front-ends send the same few documents again and
//! again (with other variables), and parsing one costs more than the rest of a cached chain
//! request's CPU. Only documents that passed the budget checks are kept, so a hit skips them
//! too; the cache is bounded in entries and in bytes of text.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

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
    documents: LruCache<Arc<str>, Arc<ExecutableDocument>>,
    bytes: usize,
    hits: u64,
    misses: u64,
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
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, Refused> {
        if let Ok(mut kept) = self.0.lock() {
            let found = kept.documents.get(query).cloned();
            match found {
                Some(document) => {
                    kept.hits += 1;
                    return Ok(ExecutableDocument::clone(&document));
                }
                None => kept.misses += 1,
            }
        }
        budget::check_nesting(query).map_err(Refused::Budget)?;
        let document = async_graphql::parser::parse_query(query).map_err(|e| Refused::Syntax(e.to_string()))?;
        budget::check_selections(&document).map_err(Refused::Budget)?;
        if query.len() <= MAX_KEPT_BYTES {
            self.keep(query, &document);
        }
        Ok(document)
    }

    fn keep(&self, query: &str, document: &ExecutableDocument) {
        let Ok(mut kept) = self.0.lock() else { return };
        if kept.documents.contains(query) {
            return;
        }
        kept.bytes += query.len();
        if let Some((old, _)) = kept.documents.push(Arc::from(query), Arc::new(document.clone())) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_refusals_are_not_kept() {
        let documents = Documents::default();
        let query = "query Q($id: ID!) { case(id: $id) { sourceKey } }";
        let first = documents.parse(query).expect("parses");
        let again = documents.parse(query).expect("parses");
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
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
