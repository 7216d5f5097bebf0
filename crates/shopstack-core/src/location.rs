//! Where in a file a problem is: byte spans turned into `file:line:column`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A place in an input file, shown as `file:line:column` (1-based), or just `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it.
    pub file: PathBuf,
    /// Line and column, both 1-based, when known.
    pub line_column: Option<(usize, usize)>,
}

impl Location {
    /// The file as a whole, with no position.
    pub fn file(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            line_column: None,
        }
    }

    /// The position of the start of `span` in `text`.
    pub fn at(file: &Path, text: &str, span: Option<Range<usize>>) -> Self {
        Self {
            file: file.to_path_buf(),
            line_column: span.map(|span| line_column(text, span.start)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_column {
            Some((line, column)) => write!(f, "{}:{line}:{column}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes: the '=' after it is the fourth character of line 2.
        assert_eq!(line_column(text, 10), (2, 4));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn location_without_position_shows_only_the_file() {
        let location = Location::file(Path::new("shopstack.toml"));
        assert_eq!(location.to_string(), "shopstack.toml");
    }
}
