//! Source positions: a 1-based line and column in one file, carried by every YAML node and diagnostic.

use serde::Serialize;

/// A position in a source file. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Span {
    /// A span at `line`, `column` (both 1-based).
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }

    /// The same line, `chars` characters further right.
    pub fn shifted(self, chars: usize) -> Self {
        Self { line: self.line, column: self.column.saturating_add(u32::try_from(chars).unwrap_or(u32::MAX)) }
    }
}
