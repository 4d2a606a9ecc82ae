//! The JSON Schema of the language, generated from the same types the parser uses, so editors
//! autocomplete and the committed copy cannot drift (a test compares them).

use schemars::generate::SchemaSettings;

use crate::expr::Num;
use crate::model::Scenario;
use crate::odd::OddFile;

/// The scenario file schema (draft-07, which editors support best), pretty-printed with a newline.
pub fn scenario_schema() -> String {
    render(SchemaSettings::draft07().into_generator().into_root_schema_for::<Scenario<Num>>())
}

/// The `odd.yaml` schema.
pub fn odd_schema() -> String {
    render(SchemaSettings::draft07().into_generator().into_root_schema_for::<OddFile>())
}

fn render(schema: schemars::Schema) -> String {
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
