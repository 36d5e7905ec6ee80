//! The lab (`harness lab`): a cell does the mix it is asked, deterministically with its seed;
//! every locking strategy's log verifies clean; the rows and files carry every field; the binary
//! writes the files. No timing is asserted.

use std::process::Command;
use synclog::experiment::lab::{lab, run_cell, summarize, Bound, CellSpec, LabConfig, MessageBytes};
use synclog::report::lab_summary;
use synclog::report::rows::{LabCell, LabRun};
use synclog::strategies::StrategyKind;

fn cell(strategy: StrategyKind, threads: u32, share: u32, records: u32) -> CellSpec {
    CellSpec {
        strategy,
        threads,
        read_share_percent: share,
        read_records: records,
        message_bytes: MessageBytes::fixed(64),
    }
}

#[test]
fn a_cell_runs_the_share_it_is_asked() {
    let ops = Bound::OpsPerThread(1_000);
    let appends_only = run_cell(&cell(StrategyKind::Mutex, 2, 0, 4), ops, 200, 7, 0).unwrap();
    assert_eq!(appends_only.reads, 0);
    assert_eq!(appends_only.appends, 2_000);
    let reads_only = run_cell(&cell(StrategyKind::RwLock, 2, 100, 4), ops, 200, 7, 0).unwrap();
    assert_eq!(reads_only.appends, 0);
    assert_eq!(reads_only.reads, 2_000);
    assert_eq!(reads_only.records_read, 2_000 * 4, "every read fetches --read-records records");
    let half = run_cell(&cell(StrategyKind::Semaphore, 2, 50, 4), ops, 200, 7, 0).unwrap();
    assert_eq!(half.reads + half.appends, 2_000);
    assert!((800..=1_200).contains(&half.reads), "50 % reads drew {} of 2000", half.reads);
}

#[test]
fn the_mix_is_deterministic_with_the_seed() {
    let spec = cell(StrategyKind::Mutex, 3, 30, 2);
    let ops = Bound::OpsPerThread(500);
    let a = run_cell(&spec, ops, 100, 42, 1).unwrap();
    let b = run_cell(&spec, ops, 100, 42, 1).unwrap();
    assert_eq!((a.reads, a.appends, a.records_read), (b.reads, b.appends, b.records_read));
    let other = run_cell(&spec, ops, 100, 43, 1).unwrap();
    let c = run_cell(&spec, ops, 100, 44, 1).unwrap();
    assert!(
        other.reads != a.reads || c.reads != a.reads,
        "three seeds drew the same number of reads: the seed does not reach the mix"
    );
}

#[test]
fn every_locking_strategy_leaves_a_log_that_verifies_clean() {
    let locks = [StrategyKind::Semaphore, StrategyKind::RwLock, StrategyKind::Mutex, StrategyKind::StdRwLock];
    for strategy in locks {
        for sizes in [MessageBytes::fixed(100), "20..700".parse().unwrap()] {
            let spec = CellSpec { message_bytes: sizes, ..cell(strategy, 4, 50, 16) };
            let run = run_cell(&spec, Bound::OpsPerThread(400), 300, 3, 0).unwrap();
            assert!(run.appends > 0 && run.reads > 0);
            assert_eq!(run.violations, 0, "{} with {sizes} sizes tore its log", strategy.name());
        }
    }
}

#[test]
fn message_sizes_parse_and_refuse() {
    assert_eq!("100".parse::<MessageBytes>().unwrap(), MessageBytes::fixed(100));
    assert_eq!("64..4096".parse::<MessageBytes>().unwrap(), MessageBytes { min: 64, max: 4096 });
    for bad in ["0", "9..3", "abc", "1..", "1..99999999"] {
        assert!(bad.parse::<MessageBytes>().is_err(), "{bad} was accepted");
    }
}

fn small_config() -> LabConfig {
    LabConfig {
        strategies: vec![StrategyKind::Mutex, StrategyKind::RwLock],
        threads: vec![2],
        read_shares: vec![0, 90],
        read_records: vec![8],
        message_bytes: MessageBytes::fixed(50),
        repeats: 2,
        bound: Bound::OpsPerThread(200),
        prefill_records: 100,
        seed: 5,
    }
}

#[test]
fn the_sweep_has_one_row_per_cell_with_its_repeats() {
    let config = small_config();
    let mut seen = 0;
    let result = lab(&config, |done, total, _| {
        seen = done;
        assert_eq!(total, 4);
    })
    .unwrap();
    assert_eq!(seen, 4);
    assert_eq!(result.cells.len(), 4);
    assert_eq!(result.runs.len(), 8, "two repeats per cell");
    for c in &result.cells {
        assert_eq!(c.repeats, 2);
        assert!(c.ops_per_s_min <= c.ops_per_s_median && c.ops_per_s_median <= c.ops_per_s_max);
        assert_eq!(c.reads + c.appends, 2 * 2 * 200);
    }
    let csv = lab_summary::csv(&result).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 4, "a header and one row per cell:\n{csv}");
    let json = serde_json::to_value(&result.cells[0]).unwrap();
    let fields = json.as_object().unwrap();
    for name in lines[0].split(',') {
        assert!(fields.contains_key(name), "CSV column {name} is no JSON field");
    }
    assert_eq!(fields.len(), lines[0].split(',').count(), "the CSV has every field of a cell");
    let fs = synclog::experiment::ceiling::filesystem_of(&std::env::temp_dir());
    assert_eq!(result.machine.data_dir_fs, fs, "the file system of the cells' logs");
    assert_ne!(result.machine.data_dir_fs, "unknown", "/proc/mounts names the temporary directory's");
}

/// A repeat that did `ops` operations and read `records` records in one second.
fn repeat(ops: f64, records: u64) -> LabRun {
    LabRun {
        strategy: "mutex".into(),
        threads: 1,
        read_share_percent: 50,
        read_records: 1,
        repeat: 0,
        reads: records,
        appends: ops as u64 - records,
        records_read: records,
        seconds: 1.0,
        ops_per_s: ops,
        violations: 0,
    }
}

#[test]
fn the_median_of_an_even_number_of_repeats_is_the_mean_of_the_two_middle_ones() {
    let spec = cell(StrategyKind::Mutex, 1, 50, 1);
    // Two repeats: the median lies between them, not on the faster one.
    let two = summarize(&spec, &[repeat(221_989.0, 100), repeat(176_717.0, 300)]);
    assert_eq!((two.ops_per_s_min, two.ops_per_s_max), (176_717.0, 221_989.0));
    assert_eq!(two.ops_per_s_median, (176_717.0 + 221_989.0) / 2.0);
    assert_eq!(two.records_read_per_s_median, 200.0);
    // Four repeats: the mean of the second and third; an odd count: the middle one.
    let four = [repeat(400.0, 4), repeat(100.0, 1), repeat(300.0, 3), repeat(200.0, 2)];
    assert_eq!(summarize(&spec, &four).ops_per_s_median, 250.0);
    assert_eq!(summarize(&spec, &four).records_read_per_s_median, 2.5);
    assert_eq!(summarize(&spec, &four[..3]).ops_per_s_median, 300.0);
    assert_eq!(summarize(&spec, &four[..1]).ops_per_s_median, 400.0);
}

#[test]
fn rows_serialize_with_every_field() {
    let row = LabCell {
        strategy: "rwlock".into(),
        threads: 2,
        read_share_percent: 90,
        read_records: 256,
        message_bytes_min: 64,
        message_bytes_max: 4096,
        repeats: 3,
        ops_per_s_min: 1.0,
        ops_per_s_median: 2.0,
        ops_per_s_max: 3.0,
        records_read_per_s_median: 4.0,
        reads: 5,
        appends: 6,
        measured_read_percent: 45.5,
        violations: 0,
    };
    let json = serde_json::to_value(&row).unwrap();
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
    for (key, _) in json.as_object().unwrap() {
        assert!(docs.contains(&format!("`{key}`")), "docs/cli.md does not describe the lab field {key}");
    }
    assert_eq!(json["read_share_percent"], 90);
    assert_eq!(json["message_bytes_max"], 4096);
}

#[test]
fn harness_lab_writes_its_files() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["lab", "--strategies", "mutex,rwlock,semaphore", "--threads", "1,2", "--read-share", "0,90"])
        .args(["--read-records", "1,16", "--repeat", "1", "--cell-ms", "15", "--prefill", "200"])
        .args(["--message-bytes", "30..300", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    for file in ["results.csv", "results.json", "summary.md", "lab_crossover.png", "lab_throughput_r16.png"] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(out.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 2 * 2 * 2);
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("cores") && summary.contains("## Goal check"), "{summary}");
    assert!(summary.contains("30..300-byte payloads"), "the message sizes are stated:\n{summary}");
    assert!(!summary.contains("at best"), "no bound the figures can contradict:\n{summary}");
}

#[test]
fn harness_lab_refuses_bad_shares_as_usage() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["lab", "--read-share", "150", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

#[test]
fn harness_lab_sets_cargo_bench_beside_its_append_only_cell_or_says_how_to_measure_it() {
    // A criterion directory holding a result for mutex only (500 ns per message: 2 M msg/s).
    let criterion = tempfile::tempdir().unwrap();
    let new = criterion.path().join("append_single/mutex/1/new");
    std::fs::create_dir_all(&new).unwrap();
    let estimate = serde_json::json!({"point_estimate": 500.0, "standard_error": 1.0,
        "confidence_interval": {"confidence_level": 0.95, "lower_bound": 490.0, "upper_bound": 510.0}});
    let estimates = serde_json::json!({"mean": estimate, "slope": estimate});
    std::fs::write(new.join("estimates.json"), estimates.to_string()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["lab", "--strategies", "mutex,rwlock", "--threads", "1", "--read-share", "0"])
        .args([
            "--read-records",
            "1",
            "--repeat",
            "1",
            "--cell-ms",
            "15",
            "--prefill",
            "200",
            "--criterion-dir",
        ])
        .arg(criterion.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("mutex: the lab's 1 thread, 0 % reads:")
            && stdout.contains("append/single/mutex/1 (slope estimate, measured ")
            && stdout.contains("2.0 M msg/s")
            && stdout.contains("lab/bench "),
        "the bench's figure beside the lab's cell: {stdout}"
    );
    assert!(
        stdout.contains("No `cargo bench` figure for rwlock")
            && stdout.contains("cargo bench --bench append -- 'append/single/(rwlock)/1$'"),
        "how to measure the missing one: {stdout}"
    );
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("## The lab against `cargo bench`"), "{summary}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    assert_eq!(json["bench_append"][0]["bench_id"], "append/single/mutex/1");
    assert_eq!(json["bench_append"].as_array().map(Vec::len), Some(1));
}
