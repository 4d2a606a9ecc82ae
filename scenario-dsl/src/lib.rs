//! The Scenario Farm scenario language: parse YAML scenario files into typed scenarios with precise
//! diagnostics, validate them, and expand their parameter sweeps into concrete, keyed variants.
//!
//! Parsing never fails: [`parse`] returns the scenario (when it is valid) *and* every diagnostic.
//! No physics and no I/O here: callers hand in file names and text.

pub mod catalog;
pub mod decode;
pub mod diagnostic;
pub mod expand;
pub mod expr;
pub mod model;
pub mod odd;
pub mod schema;
pub mod span;
pub mod validate;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

pub use catalog::{Catalog, SourceFile};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use expand::{ContentHash, MapSource, RouteJunction, Variant, VariantKey};
pub use expr::Num;
pub use model::Scenario;
pub use odd::{CoverageCell, JunctionKind, Odd};
pub use span::Span;

use crate::diagnostic::did_you_mean;
use crate::yaml::{Limits, Node, PathSeg, Scalar, ScalarStyle};

/// A scenario that parsed and validated, with its variants. Only [`parse`] makes one.
#[derive(Debug, Clone)]
pub struct ValidScenario {
    file: String,
    template: Scenario<Num>,
    content_hash: ContentHash,
    variants: Vec<Variant>,
}

impl ValidScenario {
    /// The file it came from, as named by the caller.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The scenario as written (numbers may be expressions).
    pub fn template(&self) -> &Scenario<Num> {
        &self.template
    }

    /// The scenario's id.
    pub fn id(&self) -> &str {
        &self.template.metadata.id
    }

    /// Hash of the file's normalised text.
    pub fn content_hash(&self) -> ContentHash {
        self.content_hash
    }

    /// The variants, in expansion order.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The map file `world.map.file` names, if the scenario has a map.
    pub fn map_file(&self) -> Option<&str> {
        self.template.world.map.as_ref().map(|m| m.file.as_str())
    }

    /// Hands every variant the text of its map file, read by the caller (this crate reads no file).
    pub fn attach_map(&mut self, source: MapSource) {
        for v in &mut self.variants {
            v.map_source = Some(source.clone());
        }
    }

    /// Hands every variant on a map the junctions its route passes, which the caller derives from
    /// the attached map with `derive` (this crate reads no map); the ODD's `junction` dimension
    /// reads them. Variants without a map are left alone; the first error is returned.
    pub fn attach_route_junctions<E>(
        &mut self,
        mut derive: impl FnMut(&Variant) -> Result<Vec<RouteJunction>, E>,
    ) -> Result<(), E> {
        for v in &mut self.variants {
            if v.scenario.world.map.is_some() {
                v.route_junctions = Some(derive(v)?);
            }
        }
        Ok(())
    }
}

/// What [`parse`] found: the scenario if it is usable, and every diagnostic either way.
#[derive(Debug)]
pub struct Parsed {
    /// Present when there are no errors (warnings allowed).
    pub scenario: Option<ValidScenario>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// The variants of a valid scenario, in expansion order: parameters in name order (grid: last
/// varying fastest; random: in grid order of the drawn points), each point repeated per seed.
pub fn expand(scenario: &ValidScenario) -> Vec<Variant> {
    scenario.variants.clone()
}

/// Parses, validates and expands one scenario file.
pub fn parse(file: &str, text: &str) -> Parsed {
    let mut diagnostics = Vec::new();
    let scenario = parse_inner(file, text, &mut diagnostics);
    diagnostics.sort();
    diagnostics.dedup();
    let scenario = scenario.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Parsed { scenario, diagnostics }
}

fn parse_inner(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Option<ValidScenario> {
    let loaded = yaml::load(file, text, Limits::default());
    diags.extend(loaded.diagnostics);
    let root = loaded.root?;
    // A field that takes a name may hold `${p}` of a `choices` parameter: the template is decoded
    // with p's first name there, each variant with its own.
    let choices = choice_labels(&root);
    let typed = if choices.is_empty() {
        root.clone()
    } else {
        root.map_scalars(&mut |_, scalar| {
            let (_, names) = choice_ref(&scalar.text, &choices)?;
            Some(Scalar { text: names.first()?.clone(), style: ScalarStyle::Plain })
        })
    };
    let (template, errors) = decode::decode_all::<Scenario<Num>>(&typed, SECTIONS);
    diags.extend(errors.into_iter().map(|e| e.into_diagnostic(file)));
    let template = template?;
    if template.version != model::LANGUAGE_VERSION {
        let span = root.get("version").map_or(root.span, |n| n.span);
        diags.push(
            Diagnostic::error(
                file,
                span,
                Code::UnsupportedVersion,
                format!("language version {} is not supported", template.version),
            )
            .with_help(format!("this farm reads version {}", model::LANGUAGE_VERSION)),
        );
        return None;
    }
    let content_hash = ContentHash::of(text);
    check_references(file, &root, &template, diags);
    let values = parameter_values(file, &root, &template, diags);
    if diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    let points = expand::points(&values, &template.sweep, template.seed.base);
    let total = points.len().saturating_mul(template.seed.repeats as usize);
    if total > expand::MAX_VARIANTS {
        let span = root.get("parameters").map_or(root.span, |n| n.span);
        diags.push(
            Diagnostic::error(
                file,
                span,
                Code::TooManyVariants,
                format!("the sweep expands to more than {} variants", expand::MAX_VARIANTS),
            )
            .with_help("use `sweep: { random: { count: N } }` or fewer values"),
        );
        return None;
    }
    let variants = concretise(file, &root, &template, content_hash, &points, diags);
    Some(ValidScenario { file: file.to_owned(), template, content_hash, variants })
}

/// Top-level sections decoded on their own, so that every section's mistakes are reported in one
/// pass (lists element by element).
const SECTIONS: &[decode::Section] = &[
    ("metadata", &|n| decode::decode_pruned::<model::Metadata>(n).1),
    ("parameters", &|n| decode::decode_pruned::<BTreeMap<String, model::Parameter>>(n).1),
    ("sweep", &|n| decode::decode_pruned::<model::Sweep>(n).1),
    ("seed", &|n| decode::decode_pruned::<model::SeedPolicy>(n).1),
    ("world", &|n| decode::decode_pruned::<model::World<Num>>(n).1),
    ("ego", &|n| decode::decode_pruned::<model::Ego<Num>>(n).1),
    ("actors", &|n| each::<model::Actor<Num>>(n)),
    ("traffic", &|n| decode::decode_pruned::<model::Traffic<Num>>(n).1),
    ("environment", &|n| decode::decode_pruned::<model::Environment<Num>>(n).1),
    ("criteria", &|n| each::<model::Criterion<Num>>(n)),
    ("end_when", &|n| decode::decode_pruned::<model::Trigger<Num>>(n).1),
    ("expected", &|n| decode::decode_pruned::<model::Expected<Num>>(n).1),
    ("scoring", &|n| decode::decode_pruned::<model::Scoring<Num>>(n).1),
];

/// Every decoding error of each element of a list (or of the list itself when it is not one).
fn each<T: for<'de> serde::Deserialize<'de>>(node: &Node) -> Vec<decode::DeError> {
    match &node.kind {
        yaml::NodeKind::Seq(items) => items
            .iter()
            .flat_map(|item| {
                decode::decode_pruned::<T>(item).1.into_iter().map(|mut e| {
                    e.span.get_or_insert(item.span);
                    e
                })
            })
            .collect(),
        _ => decode::decode_pruned::<Vec<T>>(node).1,
    }
}

fn expression_span(node: &Node, scalar: &Scalar, offset: usize) -> Span {
    let quote = usize::from(scalar.style == ScalarStyle::Quoted);
    node.span.shifted(offset + quote)
}

/// Unknown parameter references (with did-you-mean) and unused parameters.
fn check_references(file: &str, root: &Node, t: &Scenario<Num>, diags: &mut Vec<Diagnostic>) {
    let declared: BTreeSet<&str> = t.parameters.keys().map(String::as_str).collect();
    let mut used = BTreeSet::new();
    root.walk_scalars(&mut Vec::new(), &mut |_, node, scalar| {
        if !expr::is_expression(&scalar.text) {
            return;
        }
        match expr::parse(&scalar.text) {
            Err(e) => diags.push(Diagnostic::error(
                file,
                expression_span(node, scalar, e.offset),
                Code::BadExpression,
                e.message,
            )),
            Ok(e) => {
                let mut refs = Vec::new();
                e.params(&mut refs);
                for (name, offset) in refs {
                    if declared.contains(name.as_str()) {
                        used.insert(name);
                        continue;
                    }
                    let help = match did_you_mean(&name, declared.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if declared.is_empty() => "declare it under `parameters:`".to_owned(),
                        None => format!(
                            "declared parameters: {}",
                            declared.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    diags.push(
                        Diagnostic::error(
                            file,
                            expression_span(node, scalar, offset),
                            Code::UnknownParameter,
                            format!("unknown parameter `{name}`"),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    });
    if let Some(params) = root.get("parameters") {
        for name in declared.iter().filter(|n| !used.contains(**n)) {
            let span = params.entry(name).map_or(params.span, |(k, _)| k.span);
            diags.push(
                Diagnostic::warning(file, span, Code::UnusedParameter, format!("parameter `{name}` is never used"))
                    .with_help(format!("use it as `${{{name}}}` or remove it; it still multiplies the variants")),
            );
        }
    }
}

fn parameter_values(
    file: &str,
    root: &Node,
    t: &Scenario<Num>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Vec<f64>> {
    let mut out = BTreeMap::new();
    let span_of = |name: &str| root.locate(&[PathSeg::Key("parameters".into()), PathSeg::Key(name.into())]).span;
    for (name, p) in &t.parameters {
        match expand::parameter_values(name, p, t.seed.base) {
            Ok(v) if v.is_empty() => diags.push(
                Diagnostic::error(file, span_of(name), Code::EmptySweep, format!("parameter `{name}` has no values"))
                    .with_help("give at least one value (or remove the parameter)"),
            ),
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(message) => diags.push(Diagnostic::error(file, span_of(name), Code::BadRange, message)),
        }
    }
    let sweep_span = || root.get("sweep").map_or(root.span, |n| n.span);
    if matches!(t.sweep, model::Sweep::Random { count: 0 }) {
        diags.push(Diagnostic::error(
            file,
            sweep_span(),
            Code::EmptySweep,
            "`random` sweep with `count: 0` runs nothing".into(),
        ));
    }
    if t.seed.repeats == 0 {
        let span = root.get("seed").map_or(root.span, |n| n.span);
        diags.push(
            Diagnostic::error(file, span, Code::EmptySweep, "`repeats: 0` runs nothing".into())
                .with_help("use `repeats: 1` or more"),
        );
    }
    out
}

/// The `choices` parameters as written (name to names), read from the tree before the template is
/// decoded.
fn choice_labels(root: &Node) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(yaml::NodeKind::Map(entries)) = root.get("parameters").map(|p| &p.kind) else { return out };
    for (key, value) in entries {
        let (Some(name), Some(yaml::NodeKind::Seq(items))) = (key.as_scalar(), value.get("choices").map(|c| &c.kind))
        else {
            continue;
        };
        out.insert(name.text.clone(), items.iter().filter_map(|i| i.as_scalar().map(|s| s.text.clone())).collect());
    }
    out
}

/// The `choices` parameter a scalar names when it is exactly `${name}`.
fn choice_ref<'a>(text: &str, choices: &'a BTreeMap<String, Vec<String>>) -> Option<(&'a String, &'a Vec<String>)> {
    let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?.trim();
    choices.get_key_value(inner)
}

fn describe_point(params: &BTreeMap<String, f64>) -> String {
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn concretise(
    file: &str,
    root: &Node,
    t: &Scenario<Num>,
    content: ContentHash,
    points: &[BTreeMap<String, f64>],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Variant> {
    let mut variants = Vec::with_capacity(points.len() * t.seed.repeats as usize);
    let mut reported = BTreeSet::new();
    let choices = choice_labels(root);
    for point in points {
        let mut eval_errors = Vec::new();
        let concrete_tree = root.map_scalars(&mut |node, scalar| {
            if !expr::is_expression(&scalar.text) {
                return None;
            }
            if let Some((name, names)) = choice_ref(&scalar.text, &choices) {
                let label = point.get(name).and_then(|i| names.get(*i as usize))?;
                return Some(Scalar { text: label.clone(), style: ScalarStyle::Plain });
            }
            match expr::parse(&scalar.text).and_then(|e| e.eval(point)) {
                Ok(v) => Some(Scalar { text: format!("{v}"), style: ScalarStyle::Plain }),
                Err(e) => {
                    eval_errors.push((expression_span(node, scalar, e.offset), e.message));
                    None
                }
            }
        });
        for (span, message) in eval_errors {
            if reported.insert((Code::EvaluationFailed, span)) {
                diags.push(Diagnostic::error(
                    file,
                    span,
                    Code::EvaluationFailed,
                    format!("{message} (with {})", describe_point(point)),
                ));
            }
        }
        let concrete: Scenario<f64> = match decode::decode(&concrete_tree) {
            Ok(c) => c,
            Err(e) => {
                let d = e.into_diagnostic(file);
                if reported.insert((d.code, Span::new(d.line, d.column))) {
                    diags.push(d);
                }
                continue;
            }
        };
        for f in validate::check(&concrete) {
            let node = root.locate(&f.path);
            if !reported.insert((f.code, node.span)) {
                continue;
            }
            let from_params = node.as_scalar().is_some_and(|s| expr::is_expression(&s.text));
            let message =
                if from_params { format!("{} (with {})", f.message, describe_point(point)) } else { f.message };
            let mut d = Diagnostic::error(file, node.span, f.code, message);
            d.help = f.help;
            diags.push(d);
        }
        for repeat in 0..t.seed.repeats {
            let seed = expand::seed_for(&t.seed, point, repeat);
            variants.push(Variant {
                key: VariantKey::compute(&content, point, seed),
                scenario_id: t.metadata.id.clone(),
                index: variants.len(),
                params: point.clone(),
                seed,
                scenario: concrete.clone(),
                map_source: None,
                route_junctions: None,
            });
        }
    }
    variants
}
