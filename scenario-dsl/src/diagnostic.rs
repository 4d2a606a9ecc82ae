//! Diagnostics: what QA sees when a scenario is wrong. Each has a file, a position, a stable code,
//! a message and, where we can say something useful, help. Codes are part of the product's contract:
//! never renumber one, only add.

use serde::Serialize;

use crate::span::Span;

/// How bad a diagnostic is. Errors stop a scenario from running; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The scenario cannot be used.
    Error,
    /// Probably a mistake, but the scenario is usable.
    Warning,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal;)*) => {
        /// Stable diagnostic codes. The `E`/`W` number and the kebab-case name never change meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $(#[doc = $name] $variant,)* }

        impl Code {
            /// The stable code, e.g. `E0101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
            /// The stable kebab-case name, e.g. `unknown-field`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
        }
    };
}

codes! {
    YamlSyntax = "E0001", "yaml-syntax";
    FileTooLarge = "E0002", "file-too-large";
    NestingTooDeep = "E0003", "nesting-too-deep";
    TooManyNodes = "E0004", "too-many-nodes";
    DuplicateKey = "E0005", "duplicate-key";
    MultipleDocuments = "E0006", "multiple-documents";
    UnsupportedYaml = "E0007", "unsupported-yaml";
    EmptyDocument = "E0008", "empty-document";
    UnknownField = "E0101", "unknown-field";
    WrongType = "E0102", "wrong-type";
    MissingField = "E0103", "missing-field";
    UnknownVariant = "E0104", "unknown-variant";
    InvalidValue = "E0105", "invalid-value";
    UnsupportedVersion = "E0106", "unsupported-version";
    UnknownParameter = "E0201", "unknown-parameter";
    BadExpression = "E0202", "bad-expression";
    EmptySweep = "E0203", "empty-sweep";
    BadRange = "E0204", "bad-range";
    TooManyVariants = "E0205", "too-many-variants";
    EvaluationFailed = "E0206", "evaluation-failed";
    UnusedParameter = "W0207", "unused-parameter";
    LaneOutOfRange = "E0301", "lane-out-of-range";
    UnknownActor = "E0302", "unknown-actor";
    DuplicateActorId = "E0303", "duplicate-actor-id";
    WrongSign = "E0304", "wrong-sign";
    OutOfRange = "E0305", "out-of-range";
    NoWorld = "E0306", "no-world";
    OffRoad = "E0307", "off-road";
    DuplicateScenarioId = "E0308", "duplicate-scenario-id";
    OutsideOdd = "E0309", "outside-odd";
    BadOdd = "E0310", "bad-odd";
    ManoeuvreNeedsLane = "E0311", "manoeuvre-needs-lane";
    UnknownSignal = "E0312", "unknown-signal";
    DuplicateSignalId = "E0313", "duplicate-signal-id";
    Io = "E0401", "io";
    BadMap = "E0402", "bad-map";
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding about one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Stable code, e.g. `E0101`.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(file: &str, span: Span, code: Code, message: String) -> Self {
        Self {
            file: file.to_owned(),
            line: span.line,
            column: span.column,
            code,
            severity: Severity::Error,
            message,
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(file: &str, span: Span, code: Code, message: String) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, span, code, message) }
    }

    /// The same diagnostic with `help`.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders like a compiler: header, location, the source line with a caret, and help.
    ///
    /// `source` is the file's text; pass `None` when it is not at hand and the snippet is skipped.
    pub fn render(&self, source: Option<&str>) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{sev}[{}]: {}\n  --> {}:{}:{}\n",
            self.code.as_str(),
            self.message,
            self.file,
            self.line,
            self.column
        );
        if let Some(line) = source.and_then(|s| s.lines().nth(self.line.saturating_sub(1) as usize)) {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = line
                .chars()
                .take(self.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{pad} |\n{number} | {line}\n{pad} | {caret_pad}^\n"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
