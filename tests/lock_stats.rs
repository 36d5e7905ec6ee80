//! `--lock-stats` from the outside: the `harness` binary's JSON carries the lock row and the
//! fairness row, typed as docs/cli.md says; without the flag the lock row is `null` and the
//! strategy runs plain; the flag is refused where it cannot measure.

use serde_json::Value;
use std::process::Command;

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn run_json(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let out = Command::new(HARNESS)
        .args(["--transport", "inproc", "--producers", "2", "--consumers", "2", "--messages", "4000"])
        .args(["--strategy", "rwlock", "--json"])
        .arg(&json)
        .args(extra)
        .output()
        .expect("harness runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json parses")
}

#[test]
fn lock_stats_fields_are_present_and_typed() {
    let v = run_json(&["--lock-stats"]);
    let lock = &v["lock"];
    assert!(lock["window_s"].is_f64() && lock["share_basis"].is_string(), "{lock}");
    for side in ["producers", "consumers"] {
        let share = &lock[side];
        let sum: f64 = ["wait", "hold", "outside"].iter().map(|k| share[k].as_f64().expect("share")).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{side}: {share}");
    }
    let stats = &lock["stats"];
    assert_eq!(stats["strategy"], "rwlock");
    assert!(stats["contended_above_ns"].is_u64() && stats["clock_ns"].is_f64());
    // Every message after the warm-up (5 % of each producer's 2 000) was appended in a timed
    // write section, so at least that many were counted.
    let writes = stats["write"]["acquisitions"].as_u64().expect("write acquisitions");
    assert!(writes >= 3_800, "{writes}");
    for kind in ["read", "write"] {
        assert!(stats[kind]["contended_share"].is_f64(), "{kind}");
        for q in ["p50", "p99", "p999", "max"] {
            assert!(stats[kind]["wait_ns"][q].is_u64(), "{kind}.wait_ns.{q}");
        }
    }
    let fairness = &v["fairness"];
    for side in ["producers", "consumers"] {
        let s = &fairness[side];
        assert_eq!(s["per_actor"].as_array().expect("per_actor").len(), 2, "{side}");
        let jain = s["jain"].as_f64().expect("jain");
        assert!(jain > 0.5 && jain <= 1.0 + 1e-12, "{side}: {jain}");
        assert!(s["min"].as_f64() <= s["max"].as_f64());
    }
}

#[test]
fn without_the_flag_the_lock_row_is_null() {
    let v = run_json(&[]);
    assert!(v["lock"].is_null());
    assert!(v["fairness"]["producers"]["jain"].is_f64());
}

#[test]
fn the_flag_is_refused_with_a_remote_broker() {
    let out = Command::new(HARNESS)
        .args(["--broker", "127.0.0.1:9", "--lock-stats"])
        .output()
        .expect("harness runs");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lock-stats"));
}
