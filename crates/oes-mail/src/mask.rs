/// Masks an address for logs: `john@example.com` becomes `j***@example.com`.
///
/// Keeps the first character of the local part and the whole domain, which is enough to
/// tell deliveries apart in a log without writing users' addresses into it. A mailbox
/// such as `John <john@example.com>` is reduced to its masked address, dropping the name.
/// Input without an `@` is masked entirely.
pub fn mask_address(address: &str) -> String {
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => "***".to_owned(),
    }
}

/// Masks every address-like word in free text, such as an SMTP reply
/// `550 5.1.1 <john@example.com>: user unknown`, before it goes into an error or a log.
pub(crate) fn mask_addresses_in(text: &str) -> String {
    let is_separator = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']'
            )
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains('@') {
            out.push_str(&mask_address(word.trim_end_matches(':')));
            if word.ends_with(':') {
                out.push(':');
            }
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_separator(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_keeps_everything_but_the_local_parts() {
        assert_eq!(
            mask_addresses_in("550 5.1.1 <john@example.com>: user unknown"),
            "550 5.1.1 <j***@example.com>: user unknown"
        );
        assert_eq!(mask_addresses_in("no address here"), "no address here");
    }
}
