//! `cargo bench --bench append`'s figures, read from criterion's files so that `harness lab` can
//! set them beside its own 1-thread, 0 % reads cells: two instruments timing the same appends.
//!
//! Criterion keeps each benchmark's last result in
//! `<target>/criterion/<group>/<function>/<value>/new/estimates.json` (the group with `/` made
//! `_`): for `append/single/<strategy>/1`, `append_single/<strategy>/1/new/estimates.json`. Its
//! estimates are nanoseconds per iteration, and one iteration of `append/single` is one
//! 100-byte message. A figure read here was measured when the file was written, not by the lab:
//! the report says so and prints the file's time.

use crate::report::rows::BenchFigure;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The payload size of `append/single` (benches/append.rs).
pub const BENCH_MESSAGE_BYTES: usize = 100;

/// Criterion's directory: `$CARGO_TARGET_DIR/criterion` when that is set, else
/// `target/criterion` under the working directory (where `cargo bench` run from the repository
/// puts it).
pub fn default_criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// The id of the one-thread append benchmark of `strategy`.
pub fn bench_id(strategy: &str) -> String {
    format!("append/single/{strategy}/1")
}

/// The figure of each of `strategies` whose results are in `criterion_dir`; the others are
/// left out (the report names them and how to measure them).
pub fn append_single(criterion_dir: &Path, strategies: &[&str]) -> Vec<BenchFigure> {
    strategies.iter().filter_map(|s| read_one(criterion_dir, s)).collect()
}

fn read_one(criterion_dir: &Path, strategy: &str) -> Option<BenchFigure> {
    let file =
        criterion_dir.join("append_single").join(strategy).join("1").join("new").join("estimates.json");
    let json: Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    // The slope is criterion's headline when it fitted one (linear sampling); else the mean.
    let (name, estimate) =
        ["slope", "mean"].into_iter().find_map(|k| json.get(k).filter(|v| v.is_object()).map(|v| (k, v)))?;
    let ns = estimate.get("point_estimate")?.as_f64()?;
    let interval = estimate.get("confidence_interval")?;
    let (low_ns, high_ns) = (interval.get("lower_bound")?.as_f64()?, interval.get("upper_bound")?.as_f64()?);
    let per_s = |ns: f64| if ns > 0.0 { 1e9 / ns } else { 0.0 };
    let written = std::fs::metadata(&file).and_then(|m| m.modified()).ok()?;
    Some(BenchFigure {
        strategy: strategy.to_string(),
        bench_id: bench_id(strategy),
        message_bytes: BENCH_MESSAGE_BYTES,
        msgs_per_s: per_s(ns),
        // A longer time per message is a lower rate.
        msgs_per_s_low: per_s(high_ns),
        msgs_per_s_high: per_s(low_ns),
        estimate: name.to_string(),
        file: file.display().to_string(),
        measured_at: utc(written),
    })
}

/// `YYYY-MM-DD HH:MM UTC` of a file time.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_out_in_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(utc(UNIX_EPOCH + std::time::Duration::from_secs(1_764_966_600)), "2025-12-05 20:30 UTC");
    }

    #[test]
    fn a_figure_is_read_from_criterions_files_and_a_missing_one_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("append_single/mutex/1/new");
        std::fs::create_dir_all(&new).unwrap();
        let estimate = |ns: f64| {
            serde_json::json!({"point_estimate": ns, "standard_error": 1.0,
                "confidence_interval": {"confidence_level": 0.95, "lower_bound": ns - 50.0, "upper_bound": ns + 50.0}})
        };
        let json = serde_json::json!({"mean": estimate(1_000.0), "slope": estimate(500.0), "median": estimate(900.0)});
        std::fs::write(new.join("estimates.json"), json.to_string()).unwrap();
        let figures = append_single(dir.path(), &["mutex", "rwlock"]);
        assert_eq!(figures.len(), 1, "rwlock has no file: {figures:?}");
        let f = &figures[0];
        assert_eq!(
            (f.strategy.as_str(), f.bench_id.as_str(), f.estimate.as_str()),
            ("mutex", "append/single/mutex/1", "slope")
        );
        assert_eq!(f.msgs_per_s, 2_000_000.0);
        assert_eq!((f.msgs_per_s_low, f.msgs_per_s_high), (1e9 / 550.0, 1e9 / 450.0));
        // Without a slope (flat sampling), the mean.
        let json = serde_json::json!({"mean": estimate(1_000.0), "slope": null});
        std::fs::write(new.join("estimates.json"), json.to_string()).unwrap();
        let f = &append_single(dir.path(), &["mutex"])[0];
        assert_eq!((f.estimate.as_str(), f.msgs_per_s), ("mean", 1_000_000.0));
    }
}
