//! The documents in `docs/` against the code they describe, so that neither drifts.
//!
//! - `docs/violations.md` names exactly the kinds of `ViolationKind::ALL`, in the same order,
//!   each under the heading of its section (A the log, B the index, C observed);
//! - `docs/protocol.md`'s error-code table lists exactly the codes `ErrorCode` knows, with the
//!   numbers and names the code uses;
//! - `docs/cli.md` names every flag that a binary's `--help` prints.

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

/// Every flag a binary's `--help` declares: the `--name` that opens an option's line (after
/// a short form such as `-p, `), without repeats. Flags only mentioned in a description (of
/// another program, say) are not its own.
fn flags_in(help: &str) -> Vec<String> {
    let mut flags: Vec<String> = Vec::new();
    for line in help.lines() {
        let line = line.trim_start();
        let line = match line.as_bytes() {
            [b'-', c, b',', b' ', ..] if c.is_ascii_alphabetic() => &line[4..],
            _ => line,
        };
        let Some(rest) = line.strip_prefix("--") else { continue };
        let name: String =
            rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
        let flag = format!("--{name}");
        if !name.is_empty() && !flags.contains(&flag) {
            flags.push(flag);
        }
    }
    flags
}

/// Whether `doc` names `flag` in code (`` `--rate`` and not only `` `--rates``).
fn names_flag(doc: &str, flag: &str) -> bool {
    let quoted = format!("`{flag}");
    doc.match_indices(&quoted).any(|(i, _)| {
        let next = doc[i + quoted.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

#[test]
fn cli_md_documents_every_flag_of_every_binarys_help() {
    let doc = read_doc("cli.md");
    let commands: [(&str, &[&str]); 9] = [
        (env!("CARGO_BIN_EXE_harness"), &["run"]),
        (env!("CARGO_BIN_EXE_harness"), &["compare"]),
        (env!("CARGO_BIN_EXE_harness"), &["demo"]),
        (env!("CARGO_BIN_EXE_harness"), &["lab"]),
        (env!("CARGO_BIN_EXE_broker"), &[]),
        (env!("CARGO_BIN_EXE_synclog"), &["produce"]),
        (env!("CARGO_BIN_EXE_synclog"), &["consume"]),
        (env!("CARGO_BIN_EXE_synclog"), &["topics"]),
        (env!("CARGO_BIN_EXE_synclog"), &["verify"]),
    ];
    let mut missing = Vec::new();
    for (binary, args) in commands {
        let out = std::process::Command::new(binary).args(args).arg("--help").output().expect("run --help");
        assert!(out.status.success(), "{binary} {args:?} --help failed");
        let help = String::from_utf8(out.stdout).expect("utf-8 help");
        let flags = flags_in(&help);
        assert!(flags.len() >= 2, "{binary} {args:?}: no flags found in its help:\n{help}");
        for flag in flags {
            if flag != "--help" && !names_flag(&doc, &flag) {
                missing.push(format!("{binary} {} {flag}", args.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "flags in --help but not in docs/cli.md:\n{}", missing.join("\n"));
}

#[test]
fn flags_are_read_from_help_text_and_not_from_words() {
    let help = "  -p, --producers <N>\n      --lock-stats\n          see `cargo bench --bench x`\n  --producers again\n  -h, --help\n";
    assert_eq!(flags_in(help), ["--producers", "--lock-stats", "--help"]);
    assert!(names_flag("| `--rate N` |", "--rate"));
    assert!(names_flag("`--fsync never|always`", "--fsync"));
    assert!(!names_flag("| `--rates LIST` | `--fsync-interval-ms` |", "--rate"));
    assert!(!names_flag("| `--rates LIST` | `--fsync-interval-ms` |", "--fsync"));
}
