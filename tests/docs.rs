//! The documents in `docs/` against the code they describe, so that neither drifts.
//!
//! - `docs/violations.md` names exactly the kinds of `ViolationKind::ALL`, in the same order,
//!   each under the heading of its section (A the log, B the index, C observed);
//! - `docs/protocol.md`'s error-code table lists exactly the codes `ErrorCode` knows, with the
//!   numbers and names the code uses.

use std::path::Path;
use synclog::protocol::ErrorCode;
use synclog::violations::{Section, ViolationKind};

fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The cells of a Markdown table row (`| a | b |` → `["a", "b"]`), or `None` for other lines.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// Every `(section, kind)` named in the first column of a table of violations.md, in order.
fn documented_kinds(doc: &str) -> Vec<(Option<Section>, String)> {
    let mut section = None;
    let mut kinds = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = match heading.chars().next() {
                Some('A') => Some(Section::Log),
                Some('B') => Some(Section::Index),
                Some('C') => Some(Section::Observed),
                _ => None,
            };
            continue;
        }
        let Some(row) = cells(line) else { continue };
        let first = row[0];
        if let Some(name) = first.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
            kinds.push((section, name.to_string()));
        }
    }
    kinds
}

#[test]
fn violations_md_names_every_kind_of_the_code_and_no_other() {
    let documented = documented_kinds(&read_doc("violations.md"));
    let expected: Vec<(Option<Section>, String)> =
        ViolationKind::ALL.iter().map(|k| (Some(k.section()), k.name().to_string())).collect();
    assert_eq!(
        documented, expected,
        "docs/violations.md must list every kind of src/violations.rs, in order, under its section"
    );
}

#[test]
fn violations_md_gives_each_kind_the_codes_definition() {
    let doc = read_doc("violations.md");
    for kind in ViolationKind::ALL {
        let row = doc
            .lines()
            .filter_map(cells)
            .find(|row| row[0] == format!("`{}`", kind.name()))
            .unwrap_or_else(|| panic!("no row for {}", kind.name()));
        assert_eq!(row.get(1).copied(), Some(kind.meaning()), "definition of {}", kind.name());
    }
}

/// The rows `| code | name | meaning |` of the table under "## Error codes".
fn documented_error_codes(doc: &str) -> Vec<(u16, String)> {
    let table = doc
        .split("\n## ")
        .find(|part| part.starts_with("Error codes"))
        .expect("docs/protocol.md has a section \"## Error codes\"");
    table
        .lines()
        .filter_map(cells)
        .filter_map(|row| Some((row[0].parse::<u16>().ok()?, row.get(1)?.to_string())))
        .collect()
}

#[test]
fn protocol_md_error_table_matches_the_codes() {
    let documented = documented_error_codes(&read_doc("protocol.md"));
    let mut expected = vec![(0u16, "(none)".to_string())];
    // Codes are only ever added, so every known one sits below the first unknown code.
    for code in 1..=u16::MAX {
        match ErrorCode::from_u16(code) {
            Some(ErrorCode::Unknown(_)) | None => break,
            Some(known) => expected.push((known.as_u16(), known.name().to_string())),
        }
    }
    assert!(expected.len() > 1, "the code knows no error codes");
    assert_eq!(documented, expected, "docs/protocol.md's error-code table must match ErrorCode");
}
