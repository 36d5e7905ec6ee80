//! `results.csv` of a comparison: one row per cell, every figure of it a column, written with
//! the csv crate. A figure the cell did not measure (consume figures without consumers, lock
//! figures without `--lock-stats`, a read section nobody entered) is an empty field, never 0.

use crate::report::rows::{Comparison, TransportKind};
use crate::violations::ViolationKind;

/// One row per cell; the violation kinds are columns.
pub fn csv(c: &Comparison) -> String {
    const COLUMNS: [&str; 27] = [
        "strategy",
        "producers",
        "consumers",
        "messages",
        "message_bytes",
        "batch",
        "in_flight",
        "topics",
        "transport",
        "fsync",
        "race_window_us",
        "duration_s",
        "produce_msgs_per_s",
        "produce_mb_per_s",
        "produce_p50_us",
        "produce_p99_us",
        "produce_p999_us",
        "produce_max_us",
        "consume_msgs_per_s",
        "consume_p50_us",
        "consume_p99_us",
        "consume_p999_us",
        "consume_max_us",
        "pwrite_ceiling_msgs_per_s",
        "loopback_ceiling_msgs_per_s",
        "produce_ratio_to_ceiling",
        "verdict",
    ];
    let mut header: Vec<&str> = COLUMNS.to_vec();
    header.extend(ViolationKind::ALL.iter().map(|k| k.name()));
    header.extend(super::locks::CSV_HEADER.split(','));
    // The csv crate quotes any cell that needs it; writing into a Vec cannot fail.
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&header);
    for cell in &c.cells {
        let r = &cell.report;
        let p = &r.produce;
        // No consumers, no consume figures: empty fields (null in the JSON, "—" in summary.md).
        let consume: Vec<String> = match &r.consume {
            Some(f) => vec![
                format!("{:.0}", f.msgs_per_s),
                f.p50_us.to_string(),
                f.p99_us.to_string(),
                f.p999_us.to_string(),
                f.max_us.to_string(),
            ],
            None => vec![String::new(); 5],
        };
        let mut row: Vec<String> = vec![
            r.strategy.clone(),
            r.producers.to_string(),
            r.consumers.to_string(),
            r.messages.to_string(),
            r.message_bytes.to_string(),
            r.batch.to_string(),
            r.in_flight.to_string(),
            r.topics.to_string(),
            if r.transport == TransportKind::Tcp { "tcp" } else { "inproc" }.to_string(),
            // Empty for a remote system, whose settings the harness does not know.
            r.fsync.map_or(String::new(), |f| f.name().to_string()),
            r.race_window_us.map_or(String::new(), |w| w.to_string()),
            format!("{:.3}", r.duration_s),
            format!("{:.0}", p.msgs_per_s),
            format!("{:.2}", p.mb_per_s),
            p.p50_us.to_string(),
            p.p99_us.to_string(),
            p.p999_us.to_string(),
            p.max_us.to_string(),
        ];
        row.extend(consume);
        row.extend([
            format!("{:.0}", cell.ceilings.pwrite_msgs_per_s),
            format!("{:.0}", cell.ceilings.loopback_msgs_per_s),
            format!("{:.3}", cell.produce_ratio),
            r.verdict.clone(),
        ]);
        row.extend(
            ViolationKind::ALL.iter().map(|&k| r.violations.get(k).map_or(String::new(), |n| n.to_string())),
        );
        row.extend(super::locks::csv_cells(r.lock.as_ref(), r.fairness.as_ref()));
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::csv;
    use crate::report::rows::{Comparison, Figures, RunReport};

    fn field(text: &str, row: usize, name: &str) -> String {
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
        r.records().nth(row).unwrap().unwrap()[at].to_string()
    }

    #[test]
    fn a_cell_without_consumers_has_empty_consume_fields() {
        let idle = RunReport { consumers: 0, consume: None, ..RunReport::sample() };
        let reading = RunReport {
            consume: Some(Figures { msgs_per_s: 900.0, p99_us: 40, ..Figures::default() }),
            ..RunReport::sample()
        };
        let text = csv(&Comparison::sample(vec![idle, reading]));
        for name in
            ["consume_msgs_per_s", "consume_p50_us", "consume_p99_us", "consume_p999_us", "consume_max_us"]
        {
            assert_eq!(field(&text, 0, name), "", "{name}: {text}");
        }
        assert_eq!(field(&text, 1, "consume_msgs_per_s"), "900");
        assert_eq!(field(&text, 1, "consume_p99_us"), "40");
        assert_eq!(field(&text, 0, "produce_msgs_per_s"), "1000");
    }
}
