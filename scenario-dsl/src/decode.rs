//! Typed decoding: a serde `Deserializer` over the marked YAML tree, so every structural error
//! (unknown field, wrong type, missing field, unknown variant) carries the line and column of the
//! node it is about, plus a did-you-mean where one fits.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::Deserialize;

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::span::Span;
use crate::yaml::{Node, NodeKind, PathSeg, Resolved};

/// A decoding error: code, message, help, and the position once known.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// Where it happened; filled in by the innermost node that saw the error.
    pub span: Option<Span>,
    /// Stable code.
    pub code: Code,
    /// One-sentence message.
    pub message: String,
    /// Help, when there is some.
    pub help: Option<String>,
}

impl DeError {
    fn new(code: Code, message: String) -> Self {
        Self { span: None, code, message, help: None }
    }

    /// Locates the error at `span` unless an inner node already did. A missing field is left for
    /// the enclosing key to claim: "missing `goal` in `ego`" reads better at `ego:` than anywhere
    /// inside it.
    fn at(mut self, span: Span) -> Self {
        if self.code != Code::MissingField {
            self.span.get_or_insert(span);
        }
        self
    }

    fn at_key(mut self, key: &Node) -> Self {
        if self.span.is_none() {
            self.span = Some(key.span);
            if self.code == Code::MissingField {
                if let Some(k) = key.as_scalar() {
                    self.message = format!("{} in `{}`", self.message, k.text);
                }
            }
        }
        self
    }

    /// The error as a diagnostic of `file`.
    pub fn into_diagnostic(self, file: &str) -> Diagnostic {
        let mut d = Diagnostic::error(file, self.span.unwrap_or(Span::new(1, 1)), self.code, self.message);
        d.help = self.help;
        d
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn suggest(word: &str, expected: &'static [&'static str], what: &str) -> Option<String> {
    match did_you_mean(word, expected.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None if expected.is_empty() => None,
        None => Some(format!("expected one of {what}: {}", list(expected))),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Code::InvalidValue, msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(Code::WrongType, format!("expected {}, found {}", expected(&exp.to_string()), describe(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(Code::InvalidValue, format!("invalid value {}, expected {exp}", describe(&unexp)))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(Code::InvalidValue, format!("expected {exp}, found {len} elements"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(Code::UnknownVariant, format!("unknown value `{variant}`"));
        e.help = suggest(variant, expected, "the accepted values");
        e
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(Code::UnknownField, format!("unknown field `{field}`"));
        e.help = suggest(field, expected, "the fields");
        e
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(Code::MissingField, format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Code::DuplicateKey, format!("duplicate key `{field}`"))
    }
}

/// serde's names for expected types, in the words of the scenario language.
fn expected(exp: &str) -> String {
    match exp {
        "u8" | "u16" | "u32" | "u64" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        e if e.starts_with("struct ") => "a mapping".into(),
        e if e.starts_with("enum ") => "one of the accepted values".into(),
        e => e.into(),
    }
}

fn describe(u: &de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Str(s) => format!("the string \"{s}\""),
        de::Unexpected::Unit => "nothing (null)".into(),
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Signed(i) => format!("the number {i}"),
        de::Unexpected::Unsigned(i) => format!("the number {i}"),
        other => other.to_string(),
    }
}

/// Decodes `T` from `node`.
pub fn decode<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node))
}

/// A serde deserializer reading one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a>(pub &'a Node);

impl<'de> NodeDe<'de> {
    fn fail(&self, code: Code, message: String) -> DeError {
        DeError::new(code, message).at(self.0.span)
    }
}

macro_rules! forward_int {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let span = self.0.span;
            match &self.0.kind {
                NodeKind::Scalar(s) => match s.resolve() {
                    Resolved::Int(i) => visitor.visit_i64(i),
                    _ => self.deserialize_any(visitor),
                },
                _ => self.deserialize_any(visitor),
            }
            .map_err(|e| e.at(span))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        let r = match &self.0.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(_) => visitor.visit_borrowed_str(&s.text),
            },
            NodeKind::Seq(items) => visitor.visit_seq(Seq { items: items.iter(), len: items.len() }),
            NodeKind::Map(entries) => visitor.visit_map(Map { entries: entries.iter(), value: None }),
        };
        r.map_err(|e| e.at(span))
    }

    forward_int!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Int(i) => visitor.visit_f64(i as f64),
                Resolved::Float(f) => visitor.visit_f64(f),
                _ => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.kind {
            // A plain scalar that looks like a number is still fine where text is expected (`id: 101`).
            NodeKind::Scalar(s) if !matches!(s.resolve(), Resolved::Null) => visitor.visit_borrowed_str(&s.text),
            _ => self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.kind {
            NodeKind::Scalar(s) if matches!(s.resolve(), Resolved::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.kind {
            NodeKind::Map(entries) if entries.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(span))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.kind {
            NodeKind::Scalar(_) => visitor.visit_enum(Enum { key: self.0, value: None }),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor.visit_enum(Enum { key: k, value: Some(v) })
            }
            NodeKind::Map(entries) => {
                let found = if entries.is_empty() {
                    "an empty mapping".to_string()
                } else {
                    format!(
                        "{} keys ({})",
                        entries.len(),
                        entries
                            .iter()
                            .filter_map(|(k, _)| k.as_scalar().map(|s| format!("`{}`", s.text)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let mut e =
                    self.fail(Code::WrongType, format!("expected exactly one kind as the only key, found {found}"));
                e.help = Some(format!("write one of {} as the single key", list(variants)));
                Err(e)
            }
            NodeKind::Seq(_) => {
                let mut e =
                    self.fail(Code::WrongType, "expected a mapping with one kind as its key, found a list".into());
                e.help = Some(format!("write one of {} as the single key", list(variants)));
                Err(e)
            }
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 char bytes byte_buf seq tuple tuple_struct map struct
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
    len: usize,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDe(node)).map(Some).map_err(|e| e.at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, &'a Node)>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some((k, v));
                seed.deserialize(NodeDe(k)).map(Some).map_err(|e| e.at(k.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((k, v)) => seed.deserialize(NodeDe(v)).map_err(|e| e.at(v.span).at_key(k)),
            None => Err(DeError::new(Code::InvalidValue, "value requested before key".into())),
        }
    }
}

struct Enum<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
}

impl<'de> EnumAccess<'de> for Enum<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let span = self.key.span;
        let text = self.key.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        let v = seed.deserialize(text.into_deserializer()).map_err(|e: DeError| e.at(span))?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Enum<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(v) => match &v.kind {
                NodeKind::Scalar(s) if matches!(s.resolve(), Resolved::Null) => Ok(()),
                NodeKind::Map(e) if e.is_empty() => Ok(()),
                _ => Err(DeError::new(Code::WrongType, "this kind takes no settings; write `{}` or nothing".into())
                    .at(v.span)),
            },
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(v) => seed.deserialize(NodeDe(v)).map_err(|e| e.at(v.span)),
            None => Err(DeError::new(Code::WrongType, "this kind needs settings under it".into()).at(self.key.span)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(v) => de::Deserializer::deserialize_seq(NodeDe(v), visitor),
            None => Err(DeError::new(Code::WrongType, "this kind needs a list under it".into()).at(self.key.span)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Some(v) => match &v.kind {
                // `stop:` with nothing under it means "all defaults".
                NodeKind::Scalar(s) if matches!(s.resolve(), Resolved::Null) => {
                    visitor.visit_map(Map { entries: [].iter(), value: None }).map_err(|e| e.at(v.span))
                }
                _ => de::Deserializer::deserialize_any(NodeDe(v), visitor),
            },
            None => visitor.visit_map(Map { entries: [].iter(), value: None }).map_err(|e| e.at(self.key.span)),
        }
    }
}

/// A top-level key decoded on its own, and how: every error of its value.
pub type Section = (&'static str, &'static (dyn Fn(&Node) -> Vec<DeError> + Sync));

/// Decodes `T` from `root` and, when that fails, keeps going: each error's node is cut out of a copy
/// of the tree and decoding is retried, so one pass reports every independent mistake of a file
/// (QA fixed five typos in four lint rounds before). A field that is missing only because an
/// erroneous value was cut out is not reported again; the map that held it is cut in turn.
///
/// `sections` names top-level keys decoded on their own first (each element on its own for a
/// list), so that a required section with an error does not hide the errors of the others.
pub fn decode_all<T: for<'de> Deserialize<'de>>(root: &Node, sections: &[Section]) -> (Option<T>, Vec<DeError>) {
    let mut errors = Vec::new();
    let NodeKind::Map(entries) = &root.kind else {
        let (value, errs) = decode_pruned::<T>(root);
        return (value, errs);
    };
    let mut sectioned = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.as_scalar().map(|s| s.text.as_str()) else { continue };
        let Some((_, decode_section)) = sections.iter().find(|(n, _)| *n == name) else { continue };
        for mut e in decode_section(value) {
            if e.span.is_none() {
                e.span = Some(key.span);
                if e.code == Code::MissingField {
                    e.message = format!("{} in `{name}`", e.message);
                }
            }
            errors.push(e);
        }
        sectioned.push((name.to_owned(), key.span));
    }
    // The whole file: errors inside a section are already reported; cut the section out instead.
    let bounds: Vec<Span> = entries.iter().map(|(k, _)| k.span).collect();
    let section_of = |span: Span| -> Option<usize> {
        let i = bounds.iter().rposition(|b| *b <= span)?;
        sectioned.iter().any(|(_, s)| *s == bounds[i]).then_some(i)
    };
    let mut tree = root.clone();
    let mut removed: Vec<Vec<PathSeg>> = Vec::new();
    let mut cut_sections: Vec<String> = Vec::new();
    for _ in 0..MAX_RECOVERIES {
        match decode::<T>(&tree) {
            Ok(v) => return (errors.is_empty().then_some(v), errors),
            Err(e) => {
                let inside = e.span.and_then(section_of);
                if let Some(i) = inside {
                    let name = entries[i].0.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    if !cut_sections.contains(&name) {
                        cut_sections.push(name.clone());
                        let path = vec![PathSeg::Key(name)];
                        tree.remove(&path);
                        removed.push(path);
                        continue;
                    }
                }
                if e.code == Code::MissingField
                    && e.span.is_none()
                    && cut_sections.iter().any(|s| e.message.starts_with(&format!("missing field `{s}`")))
                {
                    // A required section with errors of its own: nothing more to learn at the top.
                    break;
                }
                match recover(root, &mut tree, &mut removed, &e) {
                    Recovery::Consequence => continue,
                    Recovery::Done => break,
                    Recovery::Cut => errors.push(e),
                    Recovery::Stuck => {
                        errors.push(e);
                        break;
                    }
                }
            }
        }
    }
    (None, errors)
}

/// Decodes `T` from `node`, cutting out each error's node and retrying; every error found.
pub fn decode_pruned<T: for<'de> Deserialize<'de>>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let mut tree = node.clone();
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..MAX_RECOVERIES {
        match decode::<T>(&tree) {
            Ok(v) => return (errors.is_empty().then_some(v), errors),
            Err(e) => match recover(node, &mut tree, &mut removed, &e) {
                Recovery::Consequence => {}
                Recovery::Done => break,
                Recovery::Cut => errors.push(e),
                Recovery::Stuck => {
                    errors.push(e);
                    break;
                }
            },
        }
    }
    (None, errors)
}

/// How many errors one file may report before decoding gives up.
const MAX_RECOVERIES: usize = 64;

enum Recovery {
    /// The error follows from an earlier cut; not reported, its map cut in turn.
    Consequence,
    /// The error's node was cut out; report it and retry.
    Cut,
    /// Nothing to cut: report it and stop.
    Stuck,
    /// The error follows from an earlier cut and nothing is left to decode: stop quietly.
    Done,
}

fn recover(original: &Node, tree: &mut Node, removed: &mut Vec<Vec<PathSeg>>, e: &DeError) -> Recovery {
    // A choice (`min_ttc: {...}`) whose only key was cut is an empty mapping now: not the user's.
    if let (Code::WrongType, Some(span)) = (e.code, e.span) {
        let emptied = |p: &[PathSeg]| {
            matches!(&tree.locate(p).kind, NodeKind::Map(m) if m.is_empty())
                && matches!(&original.locate(p).kind, NodeKind::Map(m) if !m.is_empty())
        };
        if tree.span == span && emptied(&[]) {
            return Recovery::Done;
        }
        if let Some(path) = tree.path_at(span, false).filter(|p| emptied(p)) {
            tree.remove(&path);
            removed.push(path);
            return Recovery::Consequence;
        }
    }
    if e.code == Code::MissingField {
        // "missing field `k`" right after `k` was cut from a map: cut that map.
        // (An error about a unit's root, or an enum's content, has no key of its own: no span.)
        let consequence = removed.iter().rev().find_map(|p| {
            let (PathSeg::Key(k), parent) = p.split_last()? else { return None };
            let same_field = e.message.starts_with(&format!("missing field `{k}`"));
            let same_place = e.span.is_none() || tree.nearest_key_span(parent) == e.span;
            (same_field && same_place && tree.has_path(parent)).then(|| parent.to_vec())
        });
        if let Some(parent) = consequence {
            if parent.is_empty() {
                return Recovery::Done;
            }
            tree.remove(&parent);
            removed.push(parent);
            return Recovery::Consequence;
        }
    }
    let Some(span) = e.span else { return Recovery::Stuck };
    let by_key = matches!(e.code, Code::UnknownField | Code::DuplicateKey | Code::MissingField);
    // An unknown kind written as a key (`do: { cross_raod: ... }`): cut the whole choice, or the
    // emptied mapping would be reported as a second mistake.
    let path = match e.code {
        Code::UnknownVariant => tree
            .path_at(span, true)
            .map(|mut p| {
                p.pop();
                p
            })
            .or_else(|| tree.path_at(span, false)),
        _ => tree.path_at(span, by_key),
    };
    match path {
        Some(path) if !path.is_empty() => {
            tree.remove(&path);
            // `lenght` cut: the `length` it was meant to be is missing because of it, not again.
            if let (Code::UnknownField, Some(meant)) = (e.code, e.help.as_deref().and_then(suggested)) {
                let mut twin = path[..path.len() - 1].to_vec();
                twin.push(PathSeg::Key(meant.to_owned()));
                removed.push(twin);
            }
            removed.push(path);
            Recovery::Cut
        }
        _ => Recovery::Stuck,
    }
}

/// The name in a "did you mean `x`?" help.
fn suggested(help: &str) -> Option<&str> {
    help.strip_prefix("did you mean `")?.strip_suffix("`?")
}
