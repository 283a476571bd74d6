//! What a document may cost before anything runs: checked on its text before parsing (nesting)
//! and on the parsed document before validation (selections after fragment expansion), so
//! that neither the parser's recursion nor the validator's walk over spread fragments can be
//! made to take unbounded stack or time.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};

/// Deepest nesting of `{`, `[` and `(` a document may have (selections, lists, objects and
/// arguments together); selection depth alone is limited to `MAX_DEPTH` later.
pub const MAX_NESTING: usize = 64;
/// Most field selections a document may have once every fragment spread is expanded.
pub const MAX_SELECTIONS: usize = 5_000;

/// Why a document is refused before it runs.
#[derive(Debug, PartialEq, Eq)]
pub enum OverBudget {
    Nesting(usize),
    Selections,
}

impl OverBudget {
    pub fn message(&self) -> String {
        match self {
            OverBudget::Nesting(_) => format!("the document is nested too deep (more than {MAX_NESTING} levels)"),
            OverBudget::Selections => format!(
                "the document selects too many fields once its fragments are expanded (more than {MAX_SELECTIONS})"
            ),
        }
    }
}

/// The deepest nesting of brackets in a GraphQL document, outside strings and comments;
/// stops counting once past `MAX_NESTING`.
pub fn check_nesting(query: &str) -> Result<(), OverBudget> {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(OverBudget::Nesting(depth));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Counts the field selections of every operation with fragments expanded, each fragment
/// counted once (memoized), so a chain of fragments that doubles per level is measured in
/// linear time; refuses past `MAX_SELECTIONS` (and a fragment that spreads itself).
pub fn check_selections(document: &ExecutableDocument) -> Result<usize, OverBudget> {
    let mut counter = Counter {
        document,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    let mut total = 0usize;
    let sets: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node.selection_set.node).collect(),
    };
    for set in sets {
        total = total.saturating_add(counter.count(set)?);
        if total > MAX_SELECTIONS {
            return Err(OverBudget::Selections);
        }
    }
    Ok(total)
}

struct Counter<'a> {
    document: &'a ExecutableDocument,
    memo: HashMap<&'a str, usize>,
    visiting: Vec<&'a str>,
}

impl<'a> Counter<'a> {
    fn count(&mut self, set: &'a SelectionSet) -> Result<usize, OverBudget> {
        let mut n = 0usize;
        for item in &set.items {
            let add = match &item.node {
                Selection::Field(field) => 1usize.saturating_add(self.count(&field.node.selection_set.node)?),
                Selection::InlineFragment(inline) => self.count(&inline.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str())?,
            };
            n = n.saturating_add(add);
            if n > MAX_SELECTIONS {
                return Err(OverBudget::Selections);
            }
        }
        Ok(n)
    }

    fn fragment(&mut self, name: &'a str) -> Result<usize, OverBudget> {
        if let Some(n) = self.memo.get(name) {
            return Ok(*n);
        }
        // An unknown fragment is the validator's to report; a cycle could never finish.
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Ok(0);
        };
        if self.visiting.contains(&name) {
            return Err(OverBudget::Selections);
        }
        self.visiting.push(name);
        let n = self.count(&fragment.node.selection_set.node)?;
        self.visiting.pop();
        self.memo.insert(key.as_str(), n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    /// `fragment F0 on Query { ...F1 ...F1 }`, … 30 levels: 2^30 fields once expanded.
    fn doubling_chain(levels: usize) -> String {
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..levels {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        q.push_str(&format!("fragment F{levels} on Query {{ me {{ sub }} }}\n"));
        q
    }

    #[test]
    fn a_doubling_fragment_chain_is_refused_at_once() {
        let started = std::time::Instant::now();
        assert_eq!(
            check_selections(&parse(&doubling_chain(30))),
            Err(OverBudget::Selections)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(check_selections(&parse(&doubling_chain(3))), Ok(16));
    }

    #[test]
    fn a_fragment_that_spreads_itself_is_refused() {
        let q = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(check_selections(&parse(q)), Err(OverBudget::Selections));
    }

    #[test]
    fn nesting_is_measured_outside_strings_and_comments() {
        let deep = format!("{{ me(x: {}1{}) {{ sub }} }}", "[".repeat(2_000), "]".repeat(2_000));
        assert_eq!(check_nesting(&deep), Err(OverBudget::Nesting(MAX_NESTING + 1)));
        let quoted = format!(
            "{{ cases(filter: {{text: \"{}\"}}) {{ totalCount }} }} # {}",
            "[".repeat(500),
            "{".repeat(500)
        );
        assert_eq!(check_nesting(&quoted), Ok(()));
        let block = format!(
            "{{ cases(filter: {{text: \"\"\"{}\"\"\"}}) {{ totalCount }} }}",
            "(".repeat(500)
        );
        assert_eq!(check_nesting(&block), Ok(()));
        assert_eq!(check_nesting("{ a { b { c } } }"), Ok(()));
    }
}
