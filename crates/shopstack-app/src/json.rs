//! JSON string and array literals, escaped by hand (the body of `/` needs no more).

use std::fmt::Write;

/// A JSON string literal, quotes included.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // The other control characters, and the two separators JavaScript reads as line ends.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of string literals.
pub fn string_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|item| string(item)).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_only_quoted() {
        assert_eq!(string("SESSION_SECRET"), r#""SESSION_SECRET""#);
    }

    #[test]
    fn quotes_backslashes_and_controls_are_escaped() {
        assert_eq!(string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string("1\n2\t3\r"), r#""1\n2\t3\r""#);
        assert_eq!(string("\u{1}\u{7f}\u{2028}"), r#""\u0001\u007f\u2028""#);
        assert_eq!(string("é"), "\"é\"");
    }

    #[test]
    fn arrays_join_with_commas() {
        assert_eq!(string_array(&[]), "[]");
        assert_eq!(
            string_array(&["A".to_owned(), "B\"".to_owned()]),
            r#"["A","B\""]"#
        );
    }
}
