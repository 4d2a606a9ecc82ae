//! Coverage of the ODD by a candidate's runs: which declared cells were exercised, which passed
//! (every run in them passed), which are holes, and a pass-rate heatmap over any two dimensions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use scenario_dsl::Odd;

use super::run::{Run, RunStatus};

/// One cell of a heatmap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HeatCell {
    /// Finished runs in the cell.
    pub runs: u64,
    /// Of which passed.
    pub passed: u64,
    /// passed / runs, absent when the cell has no run.
    pub rate: Option<f64>,
}

/// A pass-rate heatmap over two dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Heatmap {
    /// Dimension along the columns.
    pub x: String,
    /// Dimension along the rows.
    pub y: String,
    /// Column labels (bins of x).
    pub x_bins: Vec<String>,
    /// Row labels (bins of y).
    pub y_bins: Vec<String>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<HeatCell>>,
}

/// Coverage of one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Coverage {
    /// Dimensions, in declaration order.
    pub dimensions: Vec<String>,
    /// Cells the ODD declares.
    pub declared: u64,
    /// Cells at least one finished run fell into.
    pub exercised: u64,
    /// Exercised cells in which every run passed.
    pub passed: u64,
    /// exercised / declared, 0..1.
    pub exercised_share: f64,
    /// Declared cells no run reached (the first 100).
    pub holes: Vec<BTreeMap<String, String>>,
    /// How many holes in all.
    pub holes_total: u64,
    /// Pass rate over the two requested dimensions (default: the first two).
    pub heatmap: Option<Heatmap>,
}

/// Why a heatmap cannot be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown ODD dimension `{0}`")]
pub struct UnknownDimension(pub String);

/// Coverage of `runs` in `odd`, with a heatmap over `x` and `y` (names of dimensions).
pub fn compute(odd: &Odd, runs: &[Run], axes: Option<(&str, &str)>) -> Result<Coverage, UnknownDimension> {
    let dims: Vec<String> = odd.dimensions().iter().map(|d| d.name.clone()).collect();
    let declared: Vec<BTreeMap<String, String>> = odd.cells().into_iter().map(|c| c.0.into_iter().collect()).collect();
    let mut by_cell: BTreeMap<BTreeMap<String, String>, (u64, u64)> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.status.is_finished()) {
        let e = by_cell.entry(r.cell.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(r.status == RunStatus::Passed);
    }
    let exercised: BTreeSet<&BTreeMap<String, String>> = by_cell.keys().filter(|c| !c.is_empty()).collect();
    // Only the first 100 holes are kept: an ODD declares tens of thousands of cells, most of them holes.
    let holes_total = declared.iter().filter(|c| !exercised.contains(c)).count();
    let holes: Vec<BTreeMap<String, String>> =
        declared.iter().filter(|c| !exercised.contains(c)).take(100).cloned().collect();
    let heatmap = match axes.or_else(|| (dims.len() >= 2).then(|| (dims[0].as_str(), dims[1].as_str()))) {
        None => None,
        Some((x, y)) => {
            let bins = |name: &str| -> Result<Vec<String>, UnknownDimension> {
                let mut seen = Vec::new();
                for c in &declared {
                    let b = c.get(name).ok_or_else(|| UnknownDimension(name.to_owned()))?;
                    if !seen.contains(b) {
                        seen.push(b.clone());
                    }
                }
                if seen.is_empty() {
                    return Err(UnknownDimension(name.to_owned()));
                }
                Ok(seen)
            };
            let (x_bins, y_bins) = (bins(x)?, bins(y)?);
            let cells = y_bins
                .iter()
                .map(|yb| {
                    x_bins
                        .iter()
                        .map(|xb| {
                            let (runs, passed) = by_cell
                                .iter()
                                .filter(|(c, _)| c.get(x) == Some(xb) && c.get(y) == Some(yb))
                                .fold((0, 0), |(n, p), (_, (rn, rp))| (n + rn, p + rp));
                            HeatCell { runs, passed, rate: (runs > 0).then(|| passed as f64 / runs as f64) }
                        })
                        .collect()
                })
                .collect();
            Some(Heatmap { x: x.to_owned(), y: y.to_owned(), x_bins, y_bins, cells })
        }
    };
    let n_declared = declared.len() as u64;
    Ok(Coverage {
        dimensions: dims,
        declared: n_declared,
        exercised: exercised.len() as u64,
        passed: by_cell.iter().filter(|(c, (n, p))| !c.is_empty() && n == p).count() as u64,
        exercised_share: if n_declared == 0 { 0.0 } else { exercised.len() as f64 / n_declared as f64 },
        holes_total: holes_total as u64,
        holes,
        heatmap,
    })
}
