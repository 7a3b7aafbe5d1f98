/// A readable plain-text rendering of an HTML body, for messages that arrive with HTML only
/// (the Node system's `{to, subject, html}` queue jobs) but must go out as
/// `multipart/alternative`.
///
/// Block elements become line breaks, list items get a dash, `<script>`/`<style>` content is
/// dropped, entities are decoded, and a link's address follows its text in parentheses
/// (a text reader cannot click "Verify email"). Not a full HTML parser: good enough for
/// email bodies, which are simple by necessity.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    // (href, position in `out` where the link text starts)
    let mut open_link: Option<(String, usize)> = None;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    push_text(&mut out, rest);
                    break;
                };
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                let closing = tag.starts_with('/');
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                match name.as_str() {
                    "script" | "style" | "head" | "title" if !closing => {
                        let close = format!("</{name}");
                        let lower = rest.to_ascii_lowercase();
                        rest = match lower.find(&close) {
                            Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                            None => "",
                        };
                    }
                    "br" => out.push('\n'),
                    "p" | "div" | "table" | "tr" | "ul" | "ol" | "blockquote" | "h1" | "h2"
                    | "h3" | "h4" | "h5" | "h6" | "hr" | "section" | "header" | "footer" => {
                        out.push_str("\n\n")
                    }
                    "li" if !closing => out.push_str("\n- "),
                    "td" | "th" if closing => out.push(' '),
                    "a" if !closing => {
                        open_link =
                            attribute(tag, "href").map(|href| (decode_entities(&href), out.len()));
                    }
                    "a" => {
                        if let Some((href, start)) = open_link.take() {
                            let text = out[start..].trim();
                            let href_shown = href.strip_prefix("mailto:").unwrap_or(&href);
                            if !href.is_empty() && !href.starts_with('#') && text != href_shown {
                                out.push_str(&format!(" ({href_shown})"));
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                let end = rest.find('<').unwrap_or(rest.len());
                push_text(&mut out, &rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    tidy(&out)
}

/// Appends source text: entities decoded, runs of whitespace collapsed to one space.
fn push_text(out: &mut String, text: &str) {
    let decoded = decode_entities(text);
    for c in decoded.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            if !out.ends_with([' ', '\n']) && !out.is_empty() {
                out.push(' ');
            }
        } else if c == '\u{a0}' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
}

/// Trims each line and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n').map(str::trim) {
        if line.is_empty() && lines.last().is_none_or(|last| last.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(found) = lower[search..].find(name) {
        let at = search + found;
        search = at + name.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_whitespace());
        let after = lower[search..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or("").to_owned(),
            _ => value.split_whitespace().next().unwrap_or("").to_owned(),
        });
    }
    None
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity_end = rest[1..].find(';').map(|i| i + 1).filter(|&i| i <= 10);
        let decoded = entity_end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name.strip_prefix('#').and_then(|number| {
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => number.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_links_show_their_address() {
        let html = r#"<html><head><style>p { color: red }</style></head><body>
            <p>Hello&nbsp;<b>Ada</b>,</p>
            <p>Please <a href="https://oes.example/verify?token=a&amp;b=1">verify your email</a>.<br>Thanks</p>
            <ul><li>one</li><li>two &lt;3</li></ul>
            <script>alert(1)</script><p>Bye &#8212; OES</p></body></html>"#;
        assert_eq!(
            html_to_text(html),
            "Hello Ada,\n\nPlease verify your email (https://oes.example/verify?token=a&b=1).\nThanks\n\n- one\n- two <3\n\nBye — OES"
        );
    }

    #[test]
    fn a_link_whose_text_is_its_address_is_not_repeated() {
        assert_eq!(
            html_to_text(r#"<a href="https://oes.example/x">https://oes.example/x</a>"#),
            "https://oes.example/x"
        );
    }

    #[test]
    fn plain_text_and_broken_markup_pass_through() {
        assert_eq!(html_to_text("just text & more"), "just text & more");
        assert_eq!(html_to_text("a < b"), "a < b");
    }
}
