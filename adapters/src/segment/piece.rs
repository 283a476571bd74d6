//! One piece of a file, ready for its source's parser, and where it sits in the file.

use crate::record::{Item, Position};

/// One piece of a file, ready for the source's parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub bytes: Vec<u8>,
    /// Add to a line number the parser gives to get the line in the file.
    pub line_shift: u64,
    /// True when `bytes` starts with a copy of the header line (a CSV segment but the first).
    pub repeats_header: bool,
    /// Add to an item number the parser gives to get the item in the file (XML).
    pub item_shift: u64,
}

impl Segment {
    /// Moves positions the parser gave within this segment to positions in the whole file;
    /// `rows_before` is the number of CSV rows in the segments before.
    pub fn shift(&self, item: &mut Item, rows_before: u64) {
        let position: &mut Position = match item {
            Item::Record(r) => &mut r.position,
            Item::Quarantined(q) => &mut q.position,
        };
        if let Some(line) = position.line.as_mut() {
            *line += self.line_shift;
        }
        if let Some(item) = position.item.as_mut() {
            *item += self.item_shift;
        }
        if self.repeats_header {
            if let Some(row) = position.row.as_mut() {
                *row += rows_before;
            }
        }
    }
}
