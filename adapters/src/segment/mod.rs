//! Splitting a large line-based export (NDJSON, CSV) into segments its source's parser reads
//! on its own, so a file of any size is stored with flat memory. A CSV segment repeats the
//! header line and ends only where a row ends (quotes followed exactly as `csv::rows` does).

use std::io::{self, BufRead};

use entities::Source;

mod piece;
pub mod xml;

pub use piece::Segment;

/// Whether a source's files can be read in segments (all but the procuratorate's JSON pages,
/// which are small by the API's design).
pub fn segmentable(source: Source) -> bool {
    source != Source::Procuratorate
}

/// The CSV quoting state, exactly as `csv::rows` reads it: a quote opens only at the start of
/// a field, `""` inside quotes is a quote.
#[derive(Debug, Default, Clone, Copy)]
struct Quotes {
    in_quotes: bool,
    field_started: bool,
    /// A quote inside quotes, which closes them unless the next byte is another quote.
    pending_quote: bool,
}

impl Quotes {
    fn feed(&mut self, line: &[u8]) {
        let mut bytes = line.iter().peekable();
        while let Some(&b) = bytes.next() {
            if self.pending_quote {
                self.pending_quote = false;
                if b == b'"' {
                    self.field_started = true;
                    continue;
                }
                self.in_quotes = false;
            }
            if self.in_quotes {
                if b == b'"' {
                    self.pending_quote = true;
                }
                continue;
            }
            match b {
                b'"' if !self.field_started => {
                    self.in_quotes = true;
                }
                b',' => self.field_started = false,
                b'\r' if bytes.peek() == Some(&&b'\n') => {}
                b'\n' => self.field_started = false,
                _ => self.field_started = true,
            }
        }
    }

    /// At the end of a line: does a row end here?
    fn row_ends(&self) -> bool {
        !self.in_quotes || self.pending_quote
    }
}

/// Reads `reader` as segments of about `target` bytes, as its source's format allows.
pub enum Segments<R> {
    Lines(LineSegments<R>),
    Xml(xml::XmlSegments<R>),
}

impl<R: BufRead> Segments<R> {
    pub fn new(reader: R, source: Source, target: usize) -> Segments<R> {
        match source {
            Source::Congress => Segments::Xml(xml::XmlSegments::new(reader, target)),
            _ => Segments::Lines(LineSegments::new(reader, source, target)),
        }
    }
}

impl<R: BufRead> Iterator for Segments<R> {
    type Item = io::Result<Segment>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Segments::Lines(s) => s.next(),
            Segments::Xml(s) => s.next(),
        }
    }
}

/// Reads a line-based export as segments of about `target` bytes.
pub struct LineSegments<R> {
    reader: R,
    csv: bool,
    target: usize,
    header: Option<Vec<u8>>,
    lines: u64,
    quotes: Quotes,
    first: bool,
    done: bool,
}

impl<R: BufRead> LineSegments<R> {
    pub fn new(reader: R, source: Source, target: usize) -> LineSegments<R> {
        LineSegments {
            reader,
            csv: source != Source::Enforcement,
            target: target.max(1),
            header: None,
            lines: 0,
            quotes: Quotes::default(),
            first: true,
            done: false,
        }
    }

    fn next_segment(&mut self) -> io::Result<Option<Segment>> {
        if self.done {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let repeats_header = self.csv && !self.first;
        if let (true, Some(h)) = (repeats_header, &self.header) {
            bytes.extend_from_slice(h);
        }
        // Within a CSV segment the copied header is line 1 and the first data line line 2.
        let line_shift = if repeats_header {
            self.lines.saturating_sub(1)
        } else {
            self.lines
        };
        let mut data = 0usize;
        loop {
            let start = bytes.len();
            let read = self.reader.read_until(b'\n', &mut bytes)?;
            if read == 0 {
                self.done = true;
                break;
            }
            self.lines += 1;
            let line = &bytes[start..];
            if self.csv && self.first && self.header.is_none() {
                self.header = Some(line.to_vec());
                if !line.ends_with(b"\n") {
                    // A header without an end of line: copies need one.
                    if let Some(h) = self.header.as_mut() {
                        h.push(b'\n');
                    }
                }
                continue;
            }
            data += read;
            if self.csv {
                self.quotes.feed(line);
                if self.quotes.row_ends() {
                    self.quotes = Quotes::default();
                } else {
                    continue;
                }
            }
            if data >= self.target {
                break;
            }
        }
        let first = std::mem::replace(&mut self.first, false);
        if data == 0 && !first {
            return Ok(None);
        }
        Ok(Some(Segment {
            bytes,
            line_shift,
            repeats_header,
            item_shift: 0,
        }))
    }
}

impl<R: BufRead> Iterator for LineSegments<R> {
    type Item = io::Result<Segment>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_segment().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(source: Source, text: &str, target: usize) -> Vec<String> {
        Segments::new(text.as_bytes(), source, target)
            .map(|s| String::from_utf8(s.unwrap().bytes).unwrap())
            .collect()
    }

    #[test]
    fn ndjson_splits_at_lines() {
        assert_eq!(split(Source::Enforcement, "a\nb\nc\n", 3), vec!["a\nb\n", "c\n"]);
        assert_eq!(split(Source::Enforcement, "a\nb", 100), vec!["a\nb"]);
    }

    #[test]
    fn csv_repeats_the_header_and_never_splits_a_quoted_field() {
        let text = "h1,h2\r\n1,\"x\ny\"\r\n2,\"a\"\"\nb\"\r\n3,z\r\n";
        assert_eq!(
            split(Source::Social, text, 1),
            vec![
                "h1,h2\r\n1,\"x\ny\"\r\n",
                "h1,h2\r\n2,\"a\"\"\nb\"\r\n",
                "h1,h2\r\n3,z\r\n"
            ]
        );
    }

    #[test]
    fn a_quote_inside_a_field_is_text() {
        let text = "h\nab\"c\nd\n";
        assert_eq!(split(Source::Social, text, 1), vec!["h\nab\"c\n", "h\nd\n"]);
    }

    #[test]
    fn an_unterminated_quote_keeps_the_rest_together() {
        let text = "h\n\"open\nmore\nrest\n";
        assert_eq!(split(Source::Social, text, 1), vec!["h\n\"open\nmore\nrest\n"]);
    }
}
