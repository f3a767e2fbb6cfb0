//! Reading text line by line from the host side without trusting the file's shape: a line is
//! kept only up to a bound, whatever its length, so one long line cannot make the server hold
//! a whole file in memory.

use std::io::{self, BufRead};

/// Reads one line (through its `\n`, if any) into `buf`, keeping at most `max` bytes of it.
/// Answers how many bytes the line had: 0 at the end of the input; more than `buf.len()` when
/// the line was cut.
pub(crate) fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    let mut read = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(read);
        }
        let (used, ended) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..used.min(room)]);
        reader.consume(used);
        read += used;
        if ended {
            return Ok(read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let text = format!("short\n{}\nlast", "x".repeat(10_000));
        let mut reader = std::io::BufReader::with_capacity(64, text.as_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut reader, &mut line, 100).ok(), Some(6));
        assert_eq!(line, b"short\n");
        line.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line, 100).ok(),
            Some(10_001)
        );
        assert_eq!(line.len(), 100);
        line.clear();
        assert_eq!(read_line_bounded(&mut reader, &mut line, 100).ok(), Some(4));
        assert_eq!(line, b"last");
        line.clear();
        assert_eq!(read_line_bounded(&mut reader, &mut line, 100).ok(), Some(0));
    }
}
