//! Just enough MIME to check what a mailer produced: unfolded headers, RFC 2047 subjects,
//! nested multiparts, and 7bit/8bit/quoted-printable/base64 bodies (text assumed UTF-8).

/// A leaf part of a message (or the whole message when it is not multipart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Media type, lower-cased, without parameters (`text/plain`).
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    /// The body after transfer decoding.
    pub body: String,
}

/// A parsed RFC 5322 / MIME message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub headers: Vec<(String, String)>,
    /// Leaf parts in order, multiparts flattened.
    pub parts: Vec<Part>,
}

impl ParsedMessage {
    pub fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (headers, body) = split_entity(&text);
        let mut parts = Vec::new();
        collect_parts(&headers, body, &mut parts);
        Self { headers, parts }
    }

    /// The first header of that name (case-insensitive), unfolded but not decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The subject with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.header("Subject").map(decode_encoded_words)
    }

    /// The first leaf part of that media type.
    pub fn part(&self, content_type: &str) -> Option<&Part> {
        self.parts
            .iter()
            .find(|part| part.content_type.eq_ignore_ascii_case(content_type))
    }

    /// The plain-text body.
    pub fn text(&self) -> Option<&str> {
        self.part("text/plain").map(|part| part.body.as_str())
    }

    /// The HTML body.
    pub fn html(&self) -> Option<&str> {
        self.part("text/html").map(|part| part.body.as_str())
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Splits an entity (LF line ends) into unfolded headers and body.
fn split_entity(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match text.find("\n\n") {
        Some(at) => (&text[..at], &text[at + 2..]),
        None if text.starts_with('\n') => ("", &text[1..]),
        None => (text, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

/// `multipart/alternative; boundary="x"` → (`multipart/alternative`, `boundary` → `x`).
fn media_type(headers: &[(String, String)]) -> (String, Option<String>) {
    let value = find_header(headers, "Content-Type").unwrap_or("text/plain");
    let mut pieces = value.split(';');
    let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let boundary = pieces.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    });
    (media, boundary)
}

fn collect_parts(headers: &[(String, String)], body: &str, parts: &mut Vec<Part>) {
    let (media, boundary) = media_type(headers);
    if let (true, Some(boundary)) = (media.starts_with("multipart/"), boundary) {
        let delimiter = format!("--{boundary}");
        let mut sections = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in body.split('\n') {
            if line.trim_end() == delimiter || line.trim_end() == format!("{delimiter}--") {
                if let Some(section) = current.take() {
                    sections.push(section.join("\n"));
                }
                if line.trim_end().ends_with("--") && line.trim_end() != delimiter {
                    break;
                }
                current = Some(Vec::new());
            } else if let Some(section) = current.as_mut() {
                section.push(line);
            }
        }
        for section in sections {
            let (part_headers, part_body) = split_entity(&section);
            collect_parts(&part_headers, part_body, parts);
        }
        return;
    }
    let encoding = find_header(headers, "Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    parts.push(Part {
        content_type: media,
        headers: headers.to_vec(),
        body: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
    });
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for sextet in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end_matches([' ', '\t', '\r']);
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(line) => (line, true),
            None => (line, false),
        };
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match (
                bytes[i],
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) {
                (b'=', Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                }
                (byte, _, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        if !soft_break && lines.peek().is_some() {
            out.push(b'\n');
        }
    }
    out
}

/// Decodes one `=?charset?B|Q?text?=` word, or `None` when the word is not one.
fn decode_encoded_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut pieces = inner.splitn(3, '?');
    let _charset = pieces.next()?;
    let encoding = pieces.next()?;
    let text = pieces.next()?;
    let bytes = match encoding {
        "B" | "b" => decode_base64(text),
        "Q" | "q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Decodes RFC 2047 encoded words in a header value; the space between two encoded words
/// is not part of the text.
pub(crate) fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut previous_was_encoded = false;
    for (i, word) in value.split(' ').enumerate() {
        match decode_encoded_word(word) {
            Some(decoded) => {
                if i > 0 && !previous_was_encoded {
                    out.push(' ');
                }
                out.push_str(&decoded);
                previous_was_encoded = true;
            }
            None => {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(word);
                previous_was_encoded = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_soft_breaks_join_lines() {
        assert_eq!(
            decode_quoted_printable("caf=C3=A9 au=\nlait\nnext"),
            "café aulait\nnext".as_bytes()
        );
    }

    #[test]
    fn base64_decodes_across_line_breaks() {
        assert_eq!(decode_base64("aGVsbG8g\nd29ybGQ="), b"hello world");
    }

    #[test]
    fn adjacent_encoded_words_join_without_a_space() {
        assert_eq!(
            decode_encoded_words("=?utf-8?b?Y2Fm?= =?utf-8?b?w6k=?= ok"),
            "café ok"
        );
    }
}
