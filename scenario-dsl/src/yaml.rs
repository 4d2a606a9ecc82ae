//! The YAML layer: a bounded loader that turns text into a tree of [`Node`]s, each carrying its [`Span`].
//!
//! serde_yaml has no positions for semantic errors, so we parse with yaml-rust2's event parser and
//! build our own marked tree (ADR 0002). The loader enforces [`Limits`] while it reads events, so a
//! billion-laughs file or a deeply nested one fails fast with a clear error instead of eating memory.

use std::collections::BTreeMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// Bounds on what the loader accepts. The defaults are generous for hand-written scenarios.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of sequences and mappings.
    pub max_depth: usize,
    /// Most nodes in the tree, counting every copy an alias makes.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 1 << 20, max_depth: 48, max_nodes: 200_000 }
    }
}

/// How a scalar was written; quoted scalars are always strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// `plain`: resolved to null, bool, int, float or string by the YAML 1.2 core schema.
    Plain,
    /// `'single'`, `"double"`, `|` literal or `>` folded: always a string.
    Quoted,
}

/// A plain or quoted scalar, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's text after YAML unescaping.
    pub text: String,
    /// How it was written.
    pub style: ScalarStyle,
}

/// A scalar's meaning under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    /// A float, including `.inf` and `.nan`.
    Float(f64),
    /// Anything else, and every quoted scalar.
    Str(&'a str),
}

impl Scalar {
    /// Resolves a plain scalar by the YAML 1.2 core schema; quoted scalars stay strings.
    pub fn resolve(&self) -> Resolved<'_> {
        if self.style == ScalarStyle::Quoted {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix("0x") {
            if let Ok(v) = i64::from_str_radix(hex, 16) {
                return Resolved::Int(v);
            }
        }
        if let Some(oct) = t.strip_prefix("0o") {
            if let Ok(v) = i64::from_str_radix(oct, 8) {
                return Resolved::Int(v);
            }
        }
        let looks_numeric =
            t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'_'))
                && t.bytes().any(|b| b.is_ascii_digit());
        if looks_numeric {
            if let Ok(v) = t.parse::<i64>() {
                return Resolved::Int(v);
            }
            if !t.contains('_') {
                if let Ok(v) = t.parse::<f64>() {
                    return Resolved::Float(v);
                }
            }
        }
        Resolved::Str(t)
    }
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence, in order.
    Seq(Vec<Node>),
    /// A mapping, in source order; keys are unique (duplicates are reported and dropped).
    Map(Vec<(Node, Node)>),
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts in the source.
    pub span: Span,
    /// What it holds.
    pub kind: NodeKind,
}

/// One step of a path from the root to a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl Node {
    /// The scalar text of this node, if it is a scalar.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` if this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => {
                entries.iter().find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key)).map(|(k, v)| (k, v))
            }
            _ => None,
        }
    }

    /// The node at `path`, or the deepest node on the way there.
    pub fn locate(&self, path: &[PathSeg]) -> &Node {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(_)) => node.get(k),
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// Visits every scalar with its path, depth first in source order.
    pub fn walk_scalars<'a>(&'a self, path: &mut Vec<PathSeg>, f: &mut dyn FnMut(&[PathSeg], &'a Node, &'a Scalar)) {
        match &self.kind {
            NodeKind::Scalar(s) => f(path, self, s),
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    item.walk_scalars(path, f);
                    path.pop();
                }
            }
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    path.push(PathSeg::Key(key));
                    v.walk_scalars(path, f);
                    path.pop();
                }
            }
        }
    }

    /// The path of the node at `span`: a mapping entry whose key starts there (`by_key`), or else a
    /// value or list element that starts there, the outermost first.
    pub fn path_at(&self, span: Span, by_key: bool) -> Option<Vec<PathSeg>> {
        let mut path = Vec::new();
        self.find(span, by_key, &mut path).then_some(path)
    }

    fn find(&self, span: Span, by_key: bool, path: &mut Vec<PathSeg>) -> bool {
        let children: Vec<(PathSeg, Span, &Node)> = match &self.kind {
            NodeKind::Scalar(_) => return false,
            NodeKind::Seq(items) => items.iter().enumerate().map(|(i, n)| (PathSeg::Index(i), n.span, n)).collect(),
            NodeKind::Map(entries) => entries
                .iter()
                .map(|(k, v)| {
                    let name = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    (PathSeg::Key(name), if by_key { k.span } else { v.span }, v)
                })
                .collect(),
        };
        let key_match = |seg: &PathSeg| !by_key || matches!(seg, PathSeg::Key(_));
        if let Some((seg, _, _)) = children.iter().find(|(seg, at, _)| *at == span && key_match(seg)) {
            path.push(seg.clone());
            return true;
        }
        for (seg, _, child) in children {
            path.push(seg);
            if child.find(span, by_key, path) {
                return true;
            }
            path.pop();
        }
        false
    }

    /// Whether `path` leads to a node.
    pub fn has_path(&self, path: &[PathSeg]) -> bool {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(_)) => node.get(k),
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }

    /// The span of the last mapping key on `path` (where a decoding error about the node at `path`
    /// is reported), `None` when the path has no key.
    pub fn nearest_key_span(&self, path: &[PathSeg]) -> Option<Span> {
        let mut node = self;
        let mut key = None;
        for seg in path {
            match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(_)) => {
                    let (kn, v) = node.entry(k)?;
                    key = Some(kn.span);
                    node = v;
                }
                (PathSeg::Index(i), NodeKind::Seq(items)) => node = items.get(*i)?,
                _ => return None,
            }
        }
        key
    }

    /// Cuts the node at `path` out of its mapping or list (nothing when there is none).
    pub fn remove(&mut self, path: &[PathSeg]) {
        let Some((last, parent)) = path.split_last() else { return };
        let mut node = self;
        for seg in parent {
            let next = match (seg, &mut node.kind) {
                (PathSeg::Key(k), NodeKind::Map(entries)) => {
                    entries.iter_mut().find(|(kn, _)| kn.as_scalar().is_some_and(|s| &s.text == k)).map(|(_, v)| v)
                }
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get_mut(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return,
            }
        }
        match (last, &mut node.kind) {
            (PathSeg::Key(k), NodeKind::Map(entries)) => {
                entries.retain(|(kn, _)| kn.as_scalar().is_none_or(|s| &s.text != k))
            }
            (PathSeg::Index(i), NodeKind::Seq(items)) if *i < items.len() => {
                items.remove(*i);
            }
            _ => {}
        }
    }

    /// Replaces every scalar for which `f` returns a new value, keeping spans.
    pub fn map_scalars(&self, f: &mut dyn FnMut(&Node, &Scalar) -> Option<Scalar>) -> Node {
        let kind = match &self.kind {
            NodeKind::Scalar(s) => NodeKind::Scalar(f(self, s).unwrap_or_else(|| s.clone())),
            NodeKind::Seq(items) => NodeKind::Seq(items.iter().map(|n| n.map_scalars(f)).collect()),
            NodeKind::Map(entries) => {
                NodeKind::Map(entries.iter().map(|(k, v)| (k.clone(), v.map_scalars(f))).collect())
            }
        };
        Node { span: self.span, kind }
    }
}

/// The outcome of loading: the tree if one could be built, and what went wrong on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The document's root, absent when the text could not be read as YAML at all.
    pub root: Option<Node>,
    /// Syntax errors, limit breaches and duplicate keys.
    pub diagnostics: Vec<Diagnostic>,
}

fn span_of(m: &Marker) -> Span {
    // yaml-rust2 lines are 1-based and columns 0-based.
    Span::new(u32::try_from(m.line()).unwrap_or(u32::MAX), u32::try_from(m.col()).unwrap_or(u32::MAX).saturating_add(1))
}

enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node> },
    Map { span: Span, anchor: usize, entries: Vec<(Node, Node)>, pending_key: Option<Node> },
}

struct Builder<'f> {
    file: &'f str,
    limits: Limits,
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar(_) => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum::<usize>(),
    }
}

impl Builder<'_> {
    fn fatal(&mut self, span: Span, code: Code, message: String, help: Option<String>) -> Result<(), ()> {
        let mut d = Diagnostic::error(self.file, span, code, message);
        d.help = help;
        self.diagnostics.push(d);
        Err(())
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), ()> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return self.fatal(
                span,
                Code::TooManyNodes,
                format!("the document expands to more than {} nodes", self.limits.max_nodes),
                Some("aliases (*name) copy the anchored node; a chain of them can explode (\"billion laughs\")".into()),
            );
        }
        Ok(())
    }

    fn push_node(&mut self, node: Node, anchor: usize) -> Result<(), ()> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.documents += 1;
                if self.documents > 1 {
                    return self.fatal(
                        node.span,
                        Code::MultipleDocuments,
                        "a scenario file holds exactly one YAML document".into(),
                        Some("split the documents into separate files".into()),
                    );
                }
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, pending_key, .. }) => match pending_key.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(_)) {
                        return self.fatal(
                            node.span,
                            Code::UnsupportedYaml,
                            "mapping keys must be plain scalars".into(),
                            None,
                        );
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    let key_text = key.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    let first = entries
                        .iter()
                        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key_text))
                        .map(|(k, _)| k.span);
                    match first {
                        Some(first_span) => {
                            let mut d = Diagnostic::error(
                                self.file,
                                key.span,
                                Code::DuplicateKey,
                                format!("duplicate key `{key_text}`"),
                            );
                            d.help = Some(format!(
                                "`{key_text}` is already set at line {}, column {}; YAML keeps only one of them, so remove one",
                                first_span.line, first_span.column
                            ));
                            self.diagnostics.push(d);
                        }
                        None => entries.push((key, node)),
                    }
                }
            },
        }
        Ok(())
    }

    fn on_event(&mut self, ev: Event, mark: &Marker) -> Result<(), ()> {
        let span = span_of(mark);
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {
                Ok(())
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return self.fatal(span, Code::YamlSyntax, "alias refers to an unknown anchor".into(), None);
                };
                self.count(count_nodes(&node), span)?;
                let node = Node { span, kind: node.kind };
                self.push_node(node, 0)
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(tag) = tag {
                    return self.fatal(
                        span,
                        Code::UnsupportedYaml,
                        format!("YAML tags are not supported (found `{}{}`)", tag.handle, tag.suffix),
                        Some("write the value without a tag".into()),
                    );
                }
                self.count(1, span)?;
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    _ => ScalarStyle::Quoted,
                };
                self.push_node(Node { span, kind: NodeKind::Scalar(Scalar { text, style }) }, anchor)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if tag.is_some() => {
                let _ = anchor;
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix)).unwrap_or_default();
                self.fatal(span, Code::UnsupportedYaml, format!("YAML tags are not supported (found `{tag}`)"), None)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Seq { span, anchor, items: Vec::new() });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open(span)?;
                self.stack.push(Frame::Map { span, anchor, entries: Vec::new(), pending_key: None });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { span, anchor, items }) => {
                    self.push_node(Node { span, kind: NodeKind::Seq(items) }, anchor)
                }
                Some(Frame::Map { span, anchor, entries, .. }) => {
                    // A block mapping's start event is marked after its first key; the key is where
                    // a reader sees the mapping begin.
                    let span = entries.first().map_or(span, |(k, _)| k.span.min(span));
                    self.push_node(Node { span, kind: NodeKind::Map(entries) }, anchor)
                }
                None => Ok(()),
            },
        }
    }

    fn open(&mut self, span: Span) -> Result<(), ()> {
        self.count(1, span)?;
        if self.stack.len() >= self.limits.max_depth {
            return self.fatal(
                span,
                Code::NestingTooDeep,
                format!("nesting deeper than {} levels", self.limits.max_depth),
                None,
            );
        }
        Ok(())
    }
}

/// Loads one YAML document from `text`, reporting problems against `file`.
pub fn load(file: &str, text: &str, limits: Limits) -> Loaded {
    if text.len() > limits.max_bytes {
        let d = Diagnostic::error(
            file,
            Span::new(1, 1),
            Code::FileTooLarge,
            format!("file is {} bytes; the limit is {} bytes", text.len(), limits.max_bytes),
        );
        return Loaded { root: None, diagnostics: vec![d] };
    }
    let mut b = Builder {
        file,
        limits,
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        root: None,
        documents: 0,
        diagnostics: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((ev, mark)) => {
                if b.on_event(ev, &mark).is_err() {
                    return Loaded { root: None, diagnostics: b.diagnostics };
                }
            }
            Err(e) => {
                let span = span_of(e.marker());
                let mut d = Diagnostic::error(file, span, Code::YamlSyntax, format!("YAML syntax error: {}", e.info()));
                let line = text.lines().nth(span.line.saturating_sub(1) as usize).unwrap_or_default();
                d.help = Some(if line.contains("${") && (line.contains('{') || line.contains('[')) {
                    "inside `{ }` or `[ ]`, write an expression in quotes: `\"${name}\"`".into()
                } else {
                    "check indentation, colons after keys and matching brackets or quotes".into()
                });
                b.diagnostics.push(d);
                return Loaded { root: None, diagnostics: b.diagnostics };
            }
        }
    }
    if b.root.is_none() && b.diagnostics.is_empty() {
        b.diagnostics.push(Diagnostic::error(
            file,
            Span::new(1, 1),
            Code::EmptyDocument,
            "the file holds no YAML document".into(),
        ));
    }
    Loaded { root: b.root, diagnostics: b.diagnostics }
}
