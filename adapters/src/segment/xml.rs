//! Splitting a large congress XML export into segments `congress::parse` reads on its own:
//! each ends right after a `</JDSX>` item at depth 1; a segment but the first repeats the
//! document's start (prologue and root start tag) and every segment but the last gets the
//! root's end tag, so each is a whole document. Boundaries come from a real XML reader, so a
//! `</JDSX>` inside CDATA or a comment is text, not a boundary.

use std::io::{self, BufRead, Read};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::piece::Segment;

/// A `BufRead` that keeps every byte its reader consumes, for cutting them into segments.
struct Keeping<R> {
    inner: R,
    kept: Vec<u8>,
}

impl<R: BufRead> Read for Keeping<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.kept.extend_from_slice(&out[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Keeping<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The bytes being consumed are still in the inner buffer: keep them first.
        if let Ok(buffered) = self.inner.fill_buf() {
            let n = amount.min(buffered.len());
            self.kept.extend_from_slice(&buffered[..n]);
        }
        self.inner.consume(amount);
    }
}

/// Reads congress XML as segments of about `target` bytes.
pub struct XmlSegments<R> {
    reader: Reader<Keeping<R>>,
    event: Vec<u8>,
    target: usize,
    /// The file's bytes from its start through the root start tag.
    header: Option<Vec<u8>>,
    /// `</root>`, as the root start tag spelled its name.
    close: Vec<u8>,
    depth: usize,
    /// File offset of `kept[0]` (the start of the current segment).
    start: u64,
    /// Lines and items before the current segment.
    lines_before: u64,
    items_before: u64,
    items_in_segment: u64,
    first: bool,
    done: bool,
}

impl<R: BufRead> XmlSegments<R> {
    pub fn new(reader: R, target: usize) -> XmlSegments<R> {
        XmlSegments {
            reader: Reader::from_reader(Keeping {
                inner: reader,
                kept: Vec::new(),
            }),
            event: Vec::new(),
            target: target.max(1),
            header: None,
            close: Vec::new(),
            depth: 0,
            start: 0,
            lines_before: 0,
            items_before: 0,
            items_in_segment: 0,
            first: true,
            done: false,
        }
    }

    fn malformed(&self, e: impl std::fmt::Display) -> io::Error {
        let offset = (self.reader.error_position().saturating_sub(self.start)) as usize;
        let kept = &self.reader.get_ref().kept;
        let line = self.lines_before + 1 + newlines(&kept[..offset.min(kept.len())]);
        io::Error::new(io::ErrorKind::InvalidData, format!("malformed XML at line {line}: {e}"))
    }

    /// The segment of the kept bytes up to `end` (a file offset), as a whole document.
    fn cut(&mut self, end: Option<u64>) -> Segment {
        let kept = &mut self.reader.get_mut().kept;
        let body: Vec<u8> = match end {
            Some(end) => kept.drain(..(end - self.start) as usize).collect(),
            None => std::mem::take(kept),
        };
        let repeats_header = !self.first;
        let mut bytes = Vec::with_capacity(body.len() + 256);
        let mut line_shift = self.lines_before;
        if repeats_header {
            if let Some(h) = &self.header {
                bytes.extend_from_slice(h);
                line_shift = line_shift.saturating_sub(newlines(h));
            }
        }
        bytes.extend_from_slice(&body);
        if end.is_some() {
            bytes.extend_from_slice(&self.close);
        }
        let segment = Segment {
            bytes,
            line_shift,
            repeats_header: false,
            item_shift: self.items_before,
        };
        self.lines_before += newlines(&body);
        self.start += body.len() as u64;
        self.items_before += std::mem::take(&mut self.items_in_segment);
        self.first = false;
        segment
    }

    fn next_segment(&mut self) -> io::Result<Option<Segment>> {
        if self.done {
            return Ok(None);
        }
        loop {
            self.event.clear();
            let event = match self.reader.read_event_into(&mut self.event) {
                Ok(event) => event,
                Err(e) => {
                    self.done = true;
                    return Err(self.malformed(e));
                }
            };
            match event {
                Event::Start(e) => {
                    if self.depth == 0 && self.header.is_none() {
                        let mut close = b"</".to_vec();
                        close.extend_from_slice(e.name().as_ref());
                        close.push(b'>');
                        self.close = close;
                        let end = (self.reader.buffer_position() - self.start) as usize;
                        self.header = self.reader.get_ref().kept.get(..end).map(<[u8]>::to_vec);
                    }
                    if self.depth == 1 && e.local_name().as_ref() == b"JDSX" {
                        self.items_in_segment += 1;
                    }
                    self.depth += 1;
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    let at = self.reader.buffer_position();
                    if self.depth == 1
                        && e.local_name().as_ref() == b"JDSX"
                        && (at - self.start) as usize >= self.target
                    {
                        return Ok(Some(self.cut(Some(at))));
                    }
                }
                Event::Eof => {
                    self.done = true;
                    // Drain what the reader holds but has not handed out (nothing, at the end).
                    let mut rest = Vec::new();
                    self.reader.get_mut().read_to_end(&mut rest)?;
                    let empty = self.reader.get_ref().kept.is_empty();
                    if empty && !self.first {
                        return Ok(None);
                    }
                    return Ok(Some(self.cut(None)));
                }
                _ => {}
            }
        }
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl<R: BufRead> Iterator for XmlSegments<R> {
    type Item = io::Result<Segment>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_segment().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, target: usize) -> Vec<String> {
        XmlSegments::new(text.as_bytes(), target)
            .map(|s| String::from_utf8(s.unwrap().bytes).unwrap())
            .collect()
    }

    #[test]
    fn every_segment_is_a_whole_document() {
        let text = "<?xml version=\"1.0\"?>\n<r:Root xmlns:r=\"u\">\n<JDSX><A>1</A></JDSX>\n<JDSX><A><![CDATA[</JDSX>]]></A></JDSX>\n<JDSX/>\n<JDSX><A>3</A></JDSX>\n</r:Root>\n";
        let parts = split(text, 1);
        assert_eq!(
            parts,
            vec![
                "<?xml version=\"1.0\"?>\n<r:Root xmlns:r=\"u\">\n<JDSX><A>1</A></JDSX></r:Root>",
                "<?xml version=\"1.0\"?>\n<r:Root xmlns:r=\"u\">\n<JDSX><A><![CDATA[</JDSX>]]></A></JDSX></r:Root>",
                "<?xml version=\"1.0\"?>\n<r:Root xmlns:r=\"u\">\n<JDSX/>\n<JDSX><A>3</A></JDSX></r:Root>",
                "<?xml version=\"1.0\"?>\n<r:Root xmlns:r=\"u\">\n</r:Root>\n",
            ]
        );
        assert_eq!(split(text, 1 << 20), vec![text.to_string()]);
    }

    #[test]
    fn positions_shift_to_the_whole_file() {
        let text = "<R>\n<JDSX>a</JDSX>\n\n<JDSX>b</JDSX>\n</R>";
        let segments: Vec<Segment> = XmlSegments::new(text.as_bytes(), 1).map(|s| s.unwrap()).collect();
        assert_eq!(segments[0].item_shift, 0);
        assert_eq!(segments[1].item_shift, 1);
        // In the second segment `<JDSX>b` is on line 3 (header line 1); in the file, line 4.
        assert_eq!(segments[1].line_shift, 1);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let text = "<R>\n<JDSX>a</JDSX>\n<JDSX>b</X>\n</R>";
        let errors: Vec<String> = XmlSegments::new(text.as_bytes(), 1 << 20)
            .filter_map(|s| s.err().map(|e| e.to_string()))
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("line 3"), "{errors:?}");
    }
}
