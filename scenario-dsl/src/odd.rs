//! The operational design domain (ODD), declared once for the catalog in `catalog/odd.yaml`: named
//! dimensions with bins. Every variant falls into exactly one [`CoverageCell`]; one that falls
//! outside every bin is a catalog error, so coverage can never silently miss a run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decode;
use crate::diagnostic::{Code, Diagnostic};
use crate::expand::{RouteJunction, Variant};
use crate::model::{ActorKind, Scenario};
use crate::yaml::{self, Limits, PathSeg};

/// `catalog/odd.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OddFile {
    /// Must be 1.
    pub version: u32,
    /// The dimensions, in the order cells are written.
    pub dimensions: Vec<Dimension>,
    /// Combinations of bins that cannot occur (a highway in an open area): coverage leaves their
    /// cells out of the declared ones, so they are never holes, and a variant in one is an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Exclusion>,
}

/// A combination of bins that cannot occur.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// Dimension name to bin, as cells are written (`highway`, or `[0, 3)` for a numeric
    /// dimension): every cell that has all of these is excluded.
    pub bins: std::collections::BTreeMap<String, String>,
    /// Why the combination cannot occur.
    pub reason: String,
}

impl Exclusion {
    fn covers(&self, cell: &[(String, String)]) -> bool {
        self.bins.iter().all(|(dim, bin)| cell.iter().any(|(d, b)| d == dim && b == bin))
    }
}

/// One ODD dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// Unique name, e.g. `ego_speed`.
    pub name: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// Which quantity of a variant it bins.
    pub source: OddSource,
    /// Categories, for categorical sources (`domain`, `layout`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<String>,
    /// Increasing bin edges, for numeric sources: bins are [e0, e1), [e1, e2), ..., [en-1, en].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
}

/// Quantities a dimension can bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OddSource {
    /// The scenario's domain (categorical).
    Domain,
    /// `straight`, `curved`, `road_network` (an OpenDRIVE map) or `open_area` (categorical).
    Layout,
    /// The ego's initial speed, m/s.
    EgoSpeed,
    /// The speed limit, m/s.
    SpeedLimit,
    /// Road friction coefficient.
    Friction,
    /// Visibility, metres.
    Visibility,
    /// Number of actors.
    ActorCount,
    /// Number of pedestrians and cyclists.
    VulnerableRoadUsers,
    /// Lidar dropout probability.
    LidarDropout,
    /// Detector miss rate.
    DetectorMissRate,
    /// Density of the `traffic` block, vehicles per km per lane (0 without one).
    TrafficDensity,
    /// What controls the ego's junctions: `traffic_light`, `stop`, `yield` (the strictest of the
    /// world's `signals`: a light over a stop sign over a yield sign) or `none` (categorical).
    Signal,
    /// The most complex junction the ego's route passes on its map, by how many roads meet there:
    /// `t_junction` (3), `crossroads` (4), `complex` (5 or more) or `none` (no junction on the
    /// route, and every world without a map) (categorical). Read from the map file, never
    /// declared: a variant on a map whose junctions were not read falls outside the ODD.
    Junction,
}

/// The kind of junction a route passes, by how many roads meet there (its legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JunctionKind {
    /// No junction of three or more legs on the route, and every world without a map.
    None,
    /// Three legs.
    TJunction,
    /// Four legs.
    Crossroads,
    /// Five legs or more.
    Complex,
}

impl JunctionKind {
    /// The kind of a junction with `legs` legs. A junction where fewer than three roads meet (a
    /// road joined to its own continuation, as where a lane is added) crosses and merges no
    /// other road: it is no junction here.
    pub fn of_legs(legs: usize) -> JunctionKind {
        match legs {
            0..=2 => JunctionKind::None,
            3 => JunctionKind::TJunction,
            4 => JunctionKind::Crossroads,
            _ => JunctionKind::Complex,
        }
    }

    /// The kind of a route: that of the most complex junction it passes (a route through a
    /// T-junction and then a crossroads is a `crossroads` route).
    pub fn of_route(junctions: &[RouteJunction]) -> JunctionKind {
        junctions.iter().map(|j| JunctionKind::of_legs(j.legs)).max().unwrap_or(JunctionKind::None)
    }

    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            JunctionKind::None => "none",
            JunctionKind::TJunction => "t_junction",
            JunctionKind::Crossroads => "crossroads",
            JunctionKind::Complex => "complex",
        }
    }
}

impl OddSource {
    fn is_categorical(self) -> bool {
        matches!(self, OddSource::Domain | OddSource::Layout | OddSource::Signal | OddSource::Junction)
    }

    /// The variant's category, `None` when it cannot be known (a map's junctions not derived).
    fn category(self, v: &Variant) -> Option<&'static str> {
        let s = &v.scenario;
        Some(match self {
            OddSource::Domain => s.metadata.domain.as_str(),
            OddSource::Signal => s.world.signals.iter().map(|g| g.kind).min().map_or("none", |k| k.as_str()),
            OddSource::Junction => match (&s.world.map, &v.route_junctions) {
                (None, _) => JunctionKind::None.as_str(),
                (Some(_), Some(junctions)) => JunctionKind::of_route(junctions).as_str(),
                (Some(_), None) => return None,
            },
            _ => match (&s.world.road, &s.world.map) {
                (Some(r), _) if r.curvature != 0.0 => "curved",
                (Some(_), _) => "straight",
                (None, Some(_)) => "road_network",
                (None, None) => "open_area",
            },
        })
    }

    /// Where a categorical value comes from in the scenario, for the diagnostic of one outside
    /// the bins (the junctions: the map's route; the others: the metadata).
    fn category_path(self, s: &Scenario<f64>) -> Vec<PathSeg> {
        let p = |keys: &[&str]| keys.iter().map(|k| PathSeg::Key((*k).into())).collect();
        match self {
            OddSource::Junction if s.world.map.is_some() => p(&["world", "map", "route"]),
            OddSource::Junction => p(&["world"]),
            _ => p(&["metadata"]),
        }
    }

    /// The value and the path of the field it comes from.
    fn value(self, s: &Scenario<f64>) -> (f64, Vec<PathSeg>) {
        let p = |keys: &[&str]| keys.iter().map(|k| PathSeg::Key((*k).into())).collect();
        match self {
            OddSource::EgoSpeed => (s.ego.speed, p(&["ego", "speed"])),
            OddSource::SpeedLimit => match (&s.world.road, &s.world.area) {
                (Some(r), _) => (r.speed_limit, p(&["world", "road", "speed_limit"])),
                (None, _) if s.world.map.is_some() => {
                    (s.world.map.as_ref().map_or(0.0, |m| m.speed_limit), p(&["world", "map", "speed_limit"]))
                }
                (None, Some(a)) => (a.speed_limit, p(&["world", "area", "speed_limit"])),
                (None, None) => (0.0, p(&["world"])),
            },
            OddSource::Friction => (s.environment.friction, p(&["environment", "friction"])),
            OddSource::Visibility => (s.environment.visibility, p(&["environment", "visibility"])),
            OddSource::ActorCount => (s.actors.len() as f64, p(&["actors"])),
            OddSource::VulnerableRoadUsers => (
                s.actors.iter().filter(|a| matches!(a.kind, ActorKind::Pedestrian | ActorKind::Cyclist)).count() as f64,
                p(&["actors"]),
            ),
            OddSource::LidarDropout => (s.environment.lidar.dropout, p(&["environment", "lidar", "dropout"])),
            OddSource::DetectorMissRate => {
                (s.environment.detector.miss_rate, p(&["environment", "detector", "miss_rate"]))
            }
            OddSource::TrafficDensity => match &s.traffic {
                Some(t) => (t.density, p(&["traffic", "density"])),
                None => (0.0, p(&["traffic"])),
            },
            OddSource::Domain | OddSource::Layout | OddSource::Signal | OddSource::Junction => (0.0, Vec::new()),
        }
    }
}

/// A validated ODD declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Odd {
    dimensions: Vec<Dimension>,
    exclude: Vec<Exclusion>,
}

/// The cell a variant falls into: one bin label per dimension, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoverageCell(pub Vec<(String, String)>);

impl Serialize for CoverageCell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for CoverageCell {
    /// Reads the map `Serialize` writes, keeping the dimensions in the order they were written.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl<'de> serde::de::Visitor<'de> for CellVisitor {
            type Value = CoverageCell;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of dimension to bin label")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CoverageCell, A::Error> {
                let mut bins = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    bins.push(entry);
                }
                Ok(CoverageCell(bins))
            }
        }
        d.deserialize_map(CellVisitor)
    }
}

impl std::fmt::Display for CoverageCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(" "))
    }
}

/// A variant that fits no bin of a dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideOdd {
    /// The dimension.
    pub dimension: String,
    /// The value that fits nowhere.
    pub value: String,
    /// Where the value comes from in the scenario.
    pub path: Vec<PathSeg>,
    /// The reason of the ODD's exclusion the variant's cell falls in, when it is inside every
    /// dimension's bins but in an excluded combination.
    pub excluded: Option<String>,
}

fn label(edges: &[f64], i: usize) -> String {
    let close = if i + 2 == edges.len() { "]" } else { ")" };
    format!("[{}, {}{close}", edges[i], edges[i + 1])
}

impl Odd {
    /// Parses and checks `odd.yaml`.
    pub fn parse(file: &str, text: &str) -> (Option<Odd>, Vec<Diagnostic>) {
        let loaded = yaml::load(file, text, Limits::default());
        let mut diags = loaded.diagnostics;
        let Some(root) = loaded.root else { return (None, diags) };
        let parsed: OddFile = match decode::decode(&root) {
            Ok(p) => p,
            Err(e) => {
                diags.push(e.into_diagnostic(file));
                return (None, diags);
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in parsed.dimensions.iter().enumerate() {
            let node = root.locate(&[PathSeg::Key("dimensions".into()), PathSeg::Index(i)]);
            let mut bad = |msg: String| diags.push(Diagnostic::error(file, node.span, Code::BadOdd, msg));
            if !seen.insert(d.name.as_str()) {
                bad(format!("dimension `{}` is declared twice", d.name));
            }
            if d.source.is_categorical() {
                if d.bins.is_empty() || !d.edges.is_empty() {
                    bad(format!("dimension `{}` is categorical: give `bins`, not `edges`", d.name));
                }
            } else if d.edges.len() < 2
                || !d.bins.is_empty()
                || d.edges.iter().any(|e| !e.is_finite())
                || d.edges.windows(2).any(|w| w[0] >= w[1])
            {
                bad(format!(
                    "dimension `{}` is numeric: give at least two strictly increasing `edges` and no `bins`",
                    d.name
                ));
            }
        }
        for (i, x) in parsed.exclude.iter().enumerate() {
            let node = root.locate(&[PathSeg::Key("exclude".into()), PathSeg::Index(i)]);
            let mut bad = |msg: String| diags.push(Diagnostic::error(file, node.span, Code::BadOdd, msg));
            if x.bins.is_empty() {
                bad("an exclusion names at least one dimension's bin".into());
            }
            if x.reason.trim().is_empty() {
                bad("an exclusion needs a reason".into());
            }
            for (dim, bin) in &x.bins {
                match parsed.dimensions.iter().find(|d| &d.name == dim) {
                    None => {
                        let hint =
                            crate::diagnostic::did_you_mean(dim, parsed.dimensions.iter().map(|d| d.name.as_str()))
                                .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
                        bad(format!("an exclusion names unknown dimension `{dim}`{hint}"));
                    }
                    Some(d) => {
                        let labels: Vec<String> = if d.source.is_categorical() {
                            d.bins.clone()
                        } else {
                            (0..d.edges.len().saturating_sub(1)).map(|i| label(&d.edges, i)).collect()
                        };
                        if !labels.contains(bin) {
                            bad(format!(
                                "dimension `{dim}` has no bin `{bin}`; its bins are {}",
                                labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                }
            }
        }
        if parsed.version != 1 {
            diags.push(Diagnostic::error(
                file,
                root.span,
                Code::UnsupportedVersion,
                format!("ODD version {} is not supported", parsed.version),
            ));
        }
        if diags.iter().any(Diagnostic::is_error) {
            return (None, diags);
        }
        (Some(Odd { dimensions: parsed.dimensions, exclude: parsed.exclude }), diags)
    }

    /// The dimensions.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// The cell `variant` falls into.
    pub fn cell(&self, variant: &Variant) -> Result<CoverageCell, OutsideOdd> {
        let s = &variant.scenario;
        let mut coords = Vec::with_capacity(self.dimensions.len());
        for d in &self.dimensions {
            let bin = if d.source.is_categorical() {
                let cat = d.source.category(variant);
                d.bins.iter().find(|b| Some(b.as_str()) == cat).cloned().ok_or_else(|| OutsideOdd {
                    dimension: d.name.clone(),
                    value: cat.unwrap_or("unknown (the junctions of its map were not derived)").to_owned(),
                    path: d.source.category_path(s),
                    excluded: None,
                })?
            } else {
                let (v, path) = d.source.value(s);
                let n = d.edges.len();
                let i = (0..n - 1)
                    .find(|&i| v >= d.edges[i] && (v < d.edges[i + 1] || (i + 2 == n && v <= d.edges[i + 1])));
                match i {
                    Some(i) => label(&d.edges, i),
                    None => {
                        return Err(OutsideOdd {
                            dimension: d.name.clone(),
                            value: v.to_string(),
                            path,
                            excluded: None,
                        })
                    }
                }
            };
            coords.push((d.name.clone(), bin));
        }
        if let Some(x) = self.exclude.iter().find(|x| x.covers(&coords)) {
            let (dimension, value) =
                x.bins.iter().next().map_or((String::new(), String::new()), |(d, b)| (d.clone(), b.clone()));
            return Err(OutsideOdd {
                dimension,
                value,
                path: vec![PathSeg::Key("metadata".into())],
                excluded: Some(x.reason.clone()),
            });
        }
        Ok(CoverageCell(coords))
    }

    /// Every declared cell, in declaration order (the last dimension varying fastest).
    pub fn cells(&self) -> Vec<CoverageCell> {
        let labels: Vec<Vec<String>> = self
            .dimensions
            .iter()
            .map(|d| {
                if d.source.is_categorical() {
                    d.bins.clone()
                } else {
                    (0..d.edges.len() - 1).map(|i| label(&d.edges, i)).collect()
                }
            })
            .collect();
        // The cells are counted by bin indices and an exclusion compared as (dimension, bin)
        // index pairs, so only the kept cells are written out: the catalog's ODD has 311,040
        // combinations, of which 129,600 are declared (`parse` refuses an exclusion naming an
        // unknown dimension or bin, so none is dropped here).
        let exclusions: Vec<Vec<(usize, usize)>> = self
            .exclude
            .iter()
            .filter_map(|x| {
                x.bins
                    .iter()
                    .map(|(dim, bin)| {
                        let i = self.dimensions.iter().position(|d| &d.name == dim)?;
                        Some((i, labels[i].iter().position(|l| l == bin)?))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .collect();
        let mut cells = Vec::new();
        if labels.iter().any(Vec::is_empty) {
            return cells;
        }
        let mut at = vec![0usize; labels.len()];
        loop {
            if !exclusions.iter().any(|x| x.iter().all(|&(i, j)| at[i] == j)) {
                let names = self.dimensions.iter().map(|d| d.name.clone());
                cells.push(CoverageCell(names.zip(at.iter().zip(&labels).map(|(&j, l)| l[j].clone())).collect()));
            }
            // The next combination, the last dimension fastest; done once the first wraps.
            let mut k = labels.len();
            loop {
                if k == 0 {
                    return cells;
                }
                k -= 1;
                at[k] += 1;
                if at[k] < labels[k].len() {
                    break;
                }
                at[k] = 0;
            }
        }
    }

    /// The exclusions.
    pub fn exclusions(&self) -> &[Exclusion] {
        &self.exclude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination in order, filtered by `covers`: what `cells` counts out by indices.
    fn naive_cells(odd: &Odd) -> Vec<CoverageCell> {
        let mut cells = vec![Vec::new()];
        for d in &odd.dimensions {
            let labels: Vec<String> = if d.source.is_categorical() {
                d.bins.clone()
            } else {
                (0..d.edges.len() - 1).map(|i| label(&d.edges, i)).collect()
            };
            cells = cells
                .into_iter()
                .flat_map(|c: Vec<(String, String)>| {
                    labels.iter().map(move |l| {
                        let mut c = c.clone();
                        c.push((d.name.clone(), l.clone()));
                        c
                    })
                })
                .collect();
        }
        cells.into_iter().filter(|c| !odd.exclude.iter().any(|x| x.covers(c))).map(CoverageCell).collect()
    }

    #[test]
    fn cells_are_every_combination_in_order_less_the_excluded() {
        let text = "version: 1
dimensions:
  - { name: domain, source: domain, bins: [highway, urban, warehouse] }
  - { name: layout, source: layout, bins: [straight, road_network, open_area] }
  - { name: ego_speed, source: ego_speed, edges: [0, 3, 8, 40] }
  - { name: junction, source: junction, bins: [none, t_junction, crossroads] }
exclude:
  - { bins: { domain: highway, layout: open_area }, reason: r }
  - { bins: { layout: straight, junction: t_junction }, reason: r }
  - { bins: { layout: open_area, junction: crossroads, ego_speed: '[8, 40]' }, reason: r }
";
        let (odd, diags) = Odd::parse("odd.yaml", text);
        assert!(diags.is_empty(), "{diags:?}");
        let odd = odd.expect("valid");
        let cells = odd.cells();
        assert_eq!(cells, naive_cells(&odd));
        // 81 combinations; 9 highway in an open area, 9 straight T-junctions, 3 fast open-area
        // crossroads of which 1 on a highway.
        assert_eq!(cells.len(), 81 - 9 - 9 - 2);
        let (none, _) = Odd::parse("odd.yaml", "version: 1\ndimensions: []\n");
        assert_eq!(none.expect("valid").cells(), vec![CoverageCell(Vec::new())]);
    }
}
