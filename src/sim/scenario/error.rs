//! A scenario file that cannot be used: where (file, line and column, or key) and why.

use std::fmt;

/// A scenario file that cannot be read, does not parse or does not make sense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    origin: String,
    detail: Detail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Detail {
    /// The file could not be read.
    Io { message: String },
    /// TOML syntax, types, unknown keys, encoding: where in the text.
    Parse {
        line_col: Option<(usize, usize)>,
        message: String,
    },
    /// A value that parsed but makes no sense: which key.
    Key { key: String, message: String },
}

impl ScenarioError {
    pub(super) fn io(origin: &str, message: String) -> Self {
        Self {
            origin: origin.to_owned(),
            detail: Detail::Io { message },
        }
    }

    pub(super) fn parse(origin: &str, line_col: Option<(usize, usize)>, message: String) -> Self {
        Self {
            origin: origin.to_owned(),
            detail: Detail::Parse { line_col, message },
        }
    }

    pub(super) fn at_key(origin: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            origin: origin.to_owned(),
            detail: Detail::Key {
                key: key.into(),
                message: message.into(),
            },
        }
    }

    /// The file name (or other origin) the error is about.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1-based line and column (in characters) of a syntax, type, unknown-key or encoding error.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        match &self.detail {
            Detail::Parse { line_col, .. } => *line_col,
            _ => None,
        }
    }

    /// Key path of a semantic error, e.g. `faults[1].at` or `workload.hit_ratio`.
    pub fn key(&self) -> Option<&str> {
        match &self.detail {
            Detail::Key { key, .. } => Some(key),
            _ => None,
        }
    }

    /// What was wrong and what was expected, without the file, position or key.
    pub fn message(&self) -> &str {
        match &self.detail {
            Detail::Io { message }
            | Detail::Parse { message, .. }
            | Detail::Key { message, .. } => message,
        }
    }

    /// True when the file could not be read at all.
    pub fn is_io(&self) -> bool {
        matches!(self.detail, Detail::Io { .. })
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Detail::Io { message } => write!(f, "{}: {message}", self.origin),
            Detail::Parse {
                line_col: Some((line, column)),
                message,
            } => write!(f, "{}:{line}:{column}: {message}", self.origin),
            Detail::Parse {
                line_col: None,
                message,
            } => write!(f, "{}: {message}", self.origin),
            Detail::Key { key, message } => write!(f, "{}: key `{key}`: {message}", self.origin),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col_of(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
