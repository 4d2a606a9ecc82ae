//! Golden digests: the trace digest of the default variant of every catalog scenario, with the
//! default stack configuration, is committed in `tests/golden/digests.txt`. Any change to the
//! simulator, the stack or a scenario that changes a trajectory shows up here.

use std::path::Path;

use autonomy_stack::{FrozenClock, StackConfig};
use scenario_dsl::{Catalog, MapSource, SourceFile};

fn catalog_files(dir: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if p.is_dir() && name != "stacks" && name != "schema" {
            catalog_files(&p, out);
        } else if name.ends_with(".yaml") && !["odd.yaml", "gate.yaml", "known_failures.yaml"].contains(&name.as_str())
        {
            out.push(SourceFile { name: p.display().to_string(), text: std::fs::read_to_string(&p).unwrap() });
        }
    }
}

#[test]
fn default_variants_of_the_catalog_match_their_golden_digests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    catalog_files(&root.join("../catalog"), &mut files);
    let mut catalog = Catalog::load(&files, None);
    assert!(!catalog.has_errors(), "{:#?}", catalog.diagnostics);
    let mut actual = String::new();
    for s in &mut catalog.scenarios {
        // A map scenario's map is read beside it, as the farm's catalog loader reads it.
        if let Some(map) = s.map_file() {
            let path = Path::new(s.file()).parent().unwrap().join(map);
            let text = std::fs::read_to_string(&path).unwrap();
            s.attach_map(MapSource { file: path.display().to_string(), text: text.into() });
        }
        let v = &s.variants()[0];
        let r = sim_core::run_variant(v, &StackConfig::default(), &mut FrozenClock);
        actual.push_str(&format!("{} {} {}\n", s.id(), v.key, r.digest));
    }
    let golden_path = root.join("tests/golden/digests.txt");
    if std::env::var_os("GOLDEN_BLESS").is_some() {
        std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
        std::fs::write(&golden_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden_path).unwrap_or_default();
    if expected != actual {
        let diff: Vec<String> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .map(|l| format!("  now:  {l}"))
            .chain(expected.lines().filter(|e| !actual.lines().any(|l| l == *e)).map(|e| format!("  was:  {e}")))
            .collect();
        panic!(
            "trace digests changed for {} line(s):\n{}\n\nIf the change in behaviour is intended (a stack, simulator or catalog change), \
             re-mint them with\n  GOLDEN_BLESS=1 cargo test -p sim-core --test golden\nand commit tests/golden/digests.txt with a note on why.",
            diff.len(),
            diff.join("\n")
        );
    }
}
