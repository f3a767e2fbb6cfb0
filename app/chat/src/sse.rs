//! Server-sent events read by hand, for the streams `EventSource` cannot open: it sends no
//! `Authorization` header, so the widget (a bearer token, another origin) reads the stream
//! with `fetch` and cuts the bytes into frames here. The rules are the HTML standard's event
//! stream interpretation, minus the reconnection fields (`retry:`), which the caller owns.
//!
//! Pure bytes in, frames out, so chunk boundaries (a frame, a line or a CRLF cut anywhere)
//! are tested without a browser.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// `event:`; `message` when the frame named none.
    pub event: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
    /// This frame's own `id:`, if it had one.
    pub id: Option<String>,
}

/// Cuts a byte stream into frames. Lines end in LF, CRLF or CR; a blank line ends a frame.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The unfinished line.
    line: Vec<u8>,
    /// The last chunk ended in CR: a LF opening the next one belongs to it.
    after_cr: bool,
    /// The stream's very first bytes are checked for a byte order mark.
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the frames they completed.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<SseFrame> {
        let out = Vec::new();
        if !self.started {
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                // Too short to tell yet (the mark may be cut): wait for more.
                self.line = head;
                return out;
            }
            self.started = true;
            let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
            return self.feed(&head[start..], out);
        }
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        self.feed(chunk, out)
    }

    fn feed(&mut self, bytes: &[u8], mut out: Vec<SseFrame>) -> Vec<SseFrame> {
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    self.end_line(&mut out);
                    i += 1;
                }
                b'\r' => {
                    self.end_line(&mut out);
                    i += 1;
                    match bytes.get(i) {
                        Some(b'\n') => i += 1,
                        Some(_) => {}
                        None => self.after_cr = true,
                    }
                }
                _ => {
                    let end = bytes[i..]
                        .iter()
                        .position(|b| *b == b'\n' || *b == b'\r')
                        .map_or(bytes.len(), |p| i + p);
                    self.line.extend_from_slice(&bytes[i..end]);
                    i = end;
                }
            }
        }
        out
    }

    fn end_line(&mut self, out: &mut Vec<SseFrame>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            // A comment (the server's heartbeat).
            return;
        }
        let line = String::from_utf8_lossy(&line);
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // An id with a NUL is ignored, as browsers do.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseFrame>) {
        let event = std::mem::take(&mut self.event);
        let id = self.id.take();
        if !std::mem::take(&mut self.has_data) {
            // A frame without data is not an event (an id alone still moves nothing here).
            return;
        }
        out.push(SseFrame {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
            id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(event: &str, data: &str, id: Option<&str>) -> SseFrame {
        SseFrame {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    const STREAM: &str = "event: history_message\ndata: {\"id\":\"m1\"}\n\n:heartbeat\n\nid: 7\nevent: content\ndata: {\"text\":\"a\"}\n\nid:8\nevent:done\ndata:{}\n\n";

    fn expected() -> Vec<SseFrame> {
        vec![
            frame("history_message", "{\"id\":\"m1\"}", None),
            frame("content", "{\"text\":\"a\"}", Some("7")),
            frame("done", "{}", Some("8")),
        ]
    }

    #[test]
    fn frames_in_one_chunk() {
        assert_eq!(SseParser::new().push(STREAM.as_bytes()), expected());
    }

    /// Whatever the network cuts, the same frames come out, each once.
    #[test]
    fn frames_cut_anywhere() {
        for eol in ["\n", "\r\n", "\r"] {
            let stream = STREAM.replace('\n', eol);
            let bytes = stream.as_bytes();
            for cut in 0..=bytes.len() {
                let mut p = SseParser::new();
                let mut got = p.push(&bytes[..cut]);
                got.extend(p.push(&bytes[cut..]));
                assert_eq!(got, expected(), "eol {eol:?} cut at {cut}");
            }
            let mut p = SseParser::new();
            let got: Vec<SseFrame> = bytes.iter().flat_map(|b| p.push(&[*b])).collect();
            assert_eq!(got, expected(), "eol {eol:?} byte by byte");
        }
    }

    #[test]
    fn multi_line_data_bom_and_unfinished_frames() {
        let mut p = SseParser::new();
        let got = p.push(b"\xEF\xBB\xBFdata: one\ndata:two\n\nevent: x\n\ndata: half");
        assert_eq!(got, vec![frame("message", "one\ntwo", None)]);
        // The frame without data was not an event; the unfinished one waits.
        assert_eq!(p.push(b"\n\n"), vec![frame("message", "half", None)]);
    }

    #[test]
    fn multi_byte_characters_cut_in_half() {
        let text = "data: é…\n\n".as_bytes();
        let mut p = SseParser::new();
        let mut got = p.push(&text[..7]);
        got.extend(p.push(&text[7..]));
        assert_eq!(got, vec![frame("message", "é…", None)]);
    }
}
