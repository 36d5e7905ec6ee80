//! [`Page`] to HTML: one string, every chart inline, nothing loaded from elsewhere.
//!
//! The page's only script runs last and records, on the `<html>` element, that it ran
//! (`data-script="ok"`), how many resources the page loaded (`data-resources`, from the
//! browser's Resource Timing; 0 for a self-contained page) and any script error
//! (`data-script-error`). A browser test reads those attributes from the DOM.

use super::charts::{self, Style};
use super::{locks, Bar, Headline, Outcome, Page, RunView, Timeline, ViolationView};
use crate::report::Ceilings;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Width of a timeline drawing in SVG units; the full timeline draws at most one rect per unit
/// and outcome per lane.
pub const TIMELINE_WIDTH: u32 = 1200;
/// Points of the latency scatter drawn at most (the model's points are thinned evenly).
pub const MAX_SCATTER: usize = 4000;
/// Bars drawn at most in one zoomed window (highlighted ones always).
pub const MAX_WINDOW_BARS: usize = 300;

const STYLE: &str = include_str!("page.css");

const SCRIPT: &str = "<script>
window.addEventListener('error', function (e) { document.documentElement.dataset.scriptError = String(e.message); });
(function () {
  var d = document.documentElement;
  d.dataset.resources = String(performance.getEntriesByType('resource').length);
  d.dataset.charts = String(document.querySelectorAll('figure.chart svg').length);
  d.dataset.script = 'ok';
})();
</script>";

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `dir/index.html` (creating `dir`) and returns its path.
pub fn write(page: &Page, dir: &Path) -> Result<PathBuf, String> {
    let html = render(page)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("index.html");
    std::fs::write(&path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The whole page as one HTML document.
pub fn render(page: &Page) -> Result<String, String> {
    crate::report::charts::register_font();
    let style = Style::new(page.classroom);
    let mut h = String::with_capacity(1 << 20);
    let class = if page.classroom { "classroom" } else { "run-page" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\" class=\"{class}\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<header><h1>{}</h1><p class=\"subtitle\">{}</p></header>\n",
        esc(&page.title),
        esc(&page.title),
        esc(&page.subtitle)
    );
    if page.classroom {
        let all: Vec<String> =
            page.configuration.iter().chain(&page.machine).map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(h, "<p id=\"setup\" class=\"compact\">{}</p>", esc(&all.join(" · ")));
    } else {
        h.push_str("<section id=\"setup\">");
        pairs(&mut h, "Configuration", &page.configuration);
        pairs(&mut h, "Machine", &page.machine);
        h.push_str("</section>\n");
    }
    if !page.findings.is_empty() {
        h.push_str("<section id=\"findings\"><h2>What the data says</h2><ul>");
        for f in &page.findings {
            let _ = write!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul></section>\n");
    }
    // Side by side only on a classroom page (its runs are short); a run page's or a
    // comparison's runs carry wide tables and timelines, one under the other.
    let columns = if page.classroom { page.runs.len().min(3) } else { 1 };
    let _ = write!(h, "<div class=\"runs n{columns}\">");
    for (i, run) in page.runs.iter().enumerate() {
        run_view(&mut h, i, run, page.classroom, style)?;
    }
    h.push_str("</div>\n");
    if let Some(sp) = &page.spotlight {
        let _ = writeln!(
            h,
            "<section id=\"spotlight\"><h2>{}</h2><p>{}</p><div class=\"zoom\">{}</div></section>",
            esc(&sp.title),
            esc(&sp.text),
            timeline_svg(&sp.window, true, true)
        );
    }
    for f in &page.figures {
        let _ =
            writeln!(h, "<figure class=\"chart wide\" data-chart=\"{}\">{}</figure>", esc(&f.name), f.svg);
    }
    for t in &page.tables {
        table(&mut h, t);
    }
    if let Some(cost) = &page.cost {
        let _ = writeln!(
            h,
            "<section id=\"cost\"><figure class=\"chart\" data-chart=\"cost\">{}</figure></section>",
            charts::cost(cost, style)?
        );
    }
    if let Some(c) = &page.callouts {
        locks::render_callouts(&mut h, c);
    }
    if let Some(t) = &page.lock_time {
        h.push_str("<section id=\"lock-time\">");
        locks::time_figure(&mut h, "lock-time-runs", &t.title, &t.bars, style)?;
        h.push_str("</section>\n");
    }
    if !page.notes.is_empty() {
        h.push_str("<section id=\"notes\">");
        for n in &page.notes {
            let _ = write!(h, "<p>{}</p>", esc(n));
        }
        h.push_str("</section>\n");
    }
    if page.spotlight.is_some() || page.runs.iter().any(|r| !r.timeline.lanes.is_empty()) {
        legend(&mut h);
    }
    h.push_str(SCRIPT);
    h.push_str("\n</body></html>\n");
    Ok(h)
}

fn pairs(h: &mut String, title: &str, rows: &[(String, String)]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(h, "<div class=\"pairs\"><h2>{}</h2><dl>", esc(title));
    for (k, v) in rows {
        let _ = write!(h, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(v));
    }
    h.push_str("</dl></div>");
}

fn table(h: &mut String, t: &super::TableView) {
    let _ = write!(h, "<section class=\"table\"><h2>{}</h2><table><tr>", esc(&t.title));
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>");
    for row in &t.rows {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></section>\n");
}

fn legend(h: &mut String) {
    h.push_str("<footer class=\"legend\"><span>Timeline bars: one request, from send to answer.</span>");
    for o in Outcome::ALL {
        let _ = write!(h, "<span><i style=\"background:{}\"></i>{}</span>", o.colour(), o.name());
    }
    h.push_str("<span><i class=\"hl\"></i>part of a violation</span></footer>\n");
}

fn run_view(h: &mut String, i: usize, run: &RunView, classroom: bool, style: Style) -> Result<(), String> {
    let verdict = if run.verdict.corrupted { "corrupted" } else { "valid" };
    let _ = write!(
        h,
        "<article class=\"run\" id=\"run-{i}\"><h2>{}</h2><p class=\"verdict {verdict}\"><b>{}</b> {}</p>",
        esc(&run.name),
        esc(&run.verdict.word),
        esc(&run.verdict.sentence)
    );
    headlines(h, &run.headlines);
    if classroom {
        found(h, i, &run.violations);
    } else {
        violations(h, i, &run.violations);
    }
    h.push_str("<section class=\"charts\">");
    if run.throughput.iter().any(|s| !s.points.is_empty()) && !classroom {
        let _ = write!(
            h,
            "<figure class=\"chart\" data-chart=\"throughput\">{}</figure>",
            charts::throughput(&run.throughput, style)?
        );
    }
    if !run.latency.is_empty() && !classroom {
        let _ = write!(
            h,
            "<figure class=\"chart\" data-chart=\"latency\">{}</figure>",
            charts::latency(&run.latency, style)?
        );
    }
    if !run.scatter.is_empty() && !classroom {
        let step = run.scatter.len().div_ceil(MAX_SCATTER);
        let thinned: Vec<_> = run.scatter.iter().step_by(step.max(1)).copied().collect();
        let _ = write!(
            h,
            "<figure class=\"chart\" data-chart=\"scatter\">{}</figure>",
            charts::scatter(&thinned, run.open_loop, style)?
        );
    }
    h.push_str("</section>");
    if let Some(v) = &run.locks {
        locks::render_view(h, v, style)?;
    }
    locks::render_fairness(h, &run.fairness);
    if !run.timeline.lanes.is_empty() {
        let _ = write!(
            h,
            "<section class=\"timeline\"><h3>Timeline: every request, one lane per client</h3>{}\
             <figure class=\"timeline-full\">{}</figure></section>",
            if run.open_loop { OPEN_LOOP_TIMES } else { "" },
            timeline_svg(&run.timeline, false, classroom)
        );
    }
    h.push_str("</article>\n");
    Ok(())
}

/// Said beside an open-loop run's timeline (and its scatter's axis says "due at").
const OPEN_LOOP_TIMES: &str =
    "<p class=\"note\">Open loop: each bar starts at the request's due time on the \
schedule, not when it left (the history keeps only the due time), so a bar includes any time the request \
waited behind the schedule, as its latency does.</p>";

fn headlines(h: &mut String, rows: &[Headline]) {
    if rows.is_empty() {
        return;
    }
    // The ceiling columns only when some figure has a ceiling measured in the same run.
    let ceilings = rows.iter().any(|r| r.ceiling.as_ref().is_some_and(|c| c.value > 0.0));
    h.push_str("<table class=\"headlines\"><tr><th>figure</th><th>measured</th>");
    if ceilings {
        h.push_str("<th>ceiling (same run)</th><th>share</th>");
    }
    h.push_str("</tr>");
    for r in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td>",
            esc(&r.label),
            esc(&figure(r.value, &r.unit))
        );
        match &r.ceiling {
            Some(c) if c.value > 0.0 => {
                // The bar stops at its full width; the figure beside it is the true share, and a
                // share above 100 % is flagged as summary.md flags it.
                let ratio = r.value / c.value;
                let width = (ratio * 100.0).clamp(0.0, 100.0);
                let flag =
                    if Ceilings::failed_to_bound(ratio) { " (a ceiling that failed to bound)" } else { "" };
                let _ = write!(
                    h,
                    "<td>{}: {}</td><td class=\"share\"><span class=\"bar\"><i style=\"width:{width:.1}%\"></i></span> {:.0}%{flag}</td>",
                    esc(&c.label),
                    charts::human(c.value),
                    ratio * 100.0
                );
            }
            _ if ceilings => h.push_str("<td>—</td><td></td>"),
            _ => {}
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// A headline figure with its unit: latencies of 1000 µs and more in ms ("2.8 ms", not
/// "2.8k µs"), other figures compact ("41.2k msg/s").
pub fn figure(value: f64, unit: &str) -> String {
    match unit {
        "µs" if value >= 1e6 => format!("{:.2} s", value / 1e6),
        "µs" if value >= 1e3 => format!("{:.1} ms", value / 1e3),
        _ => format!("{} {unit}", charts::human(value)),
    }
}

fn violations(h: &mut String, run: usize, kinds: &[ViolationView]) {
    if kinds.is_empty() {
        h.push_str("<section class=\"violations none\"><h3>No violation found</h3></section>");
        return;
    }
    h.push_str("<section class=\"violations\">");
    found_list(h, run, kinds);
    for k in kinds {
        let _ = write!(
            h,
            "<details class=\"kind\" id=\"run{run}-{0}\" data-kind=\"{0}\" open><summary><code>{0}</code> × {1}: \
             <span class=\"definition\">{2}</span></summary>",
            esc(&k.kind),
            k.count,
            esc(&k.definition)
        );
        for (i, ex) in k.examples.iter().enumerate() {
            if i == 1 {
                let _ = write!(
                    h,
                    "<details class=\"more\"><summary>{} more example{}</summary>",
                    k.examples.len() - 1,
                    if k.examples.len() == 2 { "" } else { "s" }
                );
            }
            let _ = write!(
                h,
                "<figure class=\"example\" data-kind=\"{}\"><figcaption>{}</figcaption>",
                esc(&k.kind),
                esc(&ex.text)
            );
            if let Some(w) = &ex.window {
                let _ = write!(h, "<div class=\"zoom\">{}</div>", timeline_svg(w, true, false));
            }
            h.push_str("</figure>");
        }
        if k.examples.len() > 1 {
            h.push_str("</details>");
        }
        h.push_str("</details>");
    }
    h.push_str("</section>");
}

/// The kinds found, as a list of counts (each a link to its section on a full page).
fn found_list(h: &mut String, run: usize, kinds: &[ViolationView]) {
    let plural = if kinds.len() == 1 { "" } else { "s" };
    let _ = write!(h, "<h3>{} violation kind{plural} found</h3><ul class=\"found\">", kinds.len());
    for k in kinds {
        let _ =
            write!(h, "<li><a href=\"#run{run}-{0}\"><code>{0}</code> × {1}</a></li>", esc(&k.kind), k.count);
    }
    h.push_str("</ul>");
}

/// A classroom run: only which kinds were found.
fn found(h: &mut String, run: usize, kinds: &[ViolationView]) {
    if kinds.is_empty() {
        h.push_str("<section class=\"violations none\"><h3>No violation found</h3></section>");
    } else {
        h.push_str("<section class=\"violations\">");
        found_list(h, run, kinds);
        h.push_str("</section>");
    }
}

/// A duration in the unit that reads best.
pub fn duration(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// One rect to draw: merged bars of one outcome, or one bar with its label.
struct Rect<'b> {
    x0: f64,
    x1: f64,
    outcome: Outcome,
    merged: u64,
    bar: &'b Bar,
}

/// The rects of one lane. The full timeline merges bars of one outcome that start within a
/// unit of the previous rect's end; a zoomed window keeps every bar (up to its share of
/// [`MAX_WINDOW_BARS`], highlighted bars always).
fn lane_rects<'b>(bars: &'b [Bar], x: &dyn Fn(u64) -> f64, zoom: bool, cap: usize) -> Vec<Rect<'b>> {
    let mut out: Vec<Rect<'b>> = Vec::new();
    let mut kept = 0usize;
    for bar in bars {
        if zoom {
            if !bar.highlight && kept >= cap {
                continue;
            }
            kept += 1;
            out.push(Rect { x0: x(bar.start_ns), x1: x(bar.end_ns), outcome: bar.outcome, merged: 1, bar });
            continue;
        }
        let (x0, x1) = (x(bar.start_ns), x(bar.end_ns));
        if let Some(last) = out.last_mut() {
            if !bar.highlight && !last.bar.highlight && last.outcome == bar.outcome && x0 <= last.x1 + 1.0 {
                last.x1 = last.x1.max(x1);
                last.merged += 1;
                continue;
            }
        }
        out.push(Rect { x0, x1, outcome: bar.outcome, merged: 1, bar });
    }
    out
}

/// A timeline as SVG: lanes of bars, a time axis on top. `zoom` draws a violation's window
/// (labels on bars, times relative to the window's start).
pub fn timeline_svg(t: &Timeline, zoom: bool, large: bool) -> String {
    // A classroom's full timelines stand side by side, each about half the page wide: a
    // narrower drawing keeps their type at projector size once scaled to fit.
    let width = if large && !zoom { 640.0 } else { f64::from(TIMELINE_WIDTH) };
    let font: u32 = match (zoom, large) {
        (_, true) => 22,
        (_, false) => 15,
    };
    let label_w = if large { 160.0 } else { 150.0 };
    let lane_h = match (zoom, large) {
        (true, false) => 62.0,
        (true, true) => 80.0,
        (false, true) => 32.0,
        (false, false) => 22.0,
    };
    let top = f64::from(font) * 2.0 + 4.0;
    let plot_w = width - label_w - 10.0;
    let span = t.end_ns.saturating_sub(t.start_ns).max(1) as f64;
    let x = |ns: u64| label_w + (ns.saturating_sub(t.start_ns) as f64 / span * plot_w).min(plot_w);
    let height = top + lane_h * t.lanes.len() as f64 + 6.0;
    let cap = MAX_WINDOW_BARS / t.lanes.len().max(1);
    let mut s = String::new();
    let mut drawn = 0usize;
    let mut body = String::new();
    for (i, lane) in t.lanes.iter().enumerate() {
        let y = top + lane_h * i as f64;
        let fill = if i % 2 == 0 { "#f3f4f6" } else { "#ffffff" };
        let _ = write!(
            body,
            "<rect x=\"0\" y=\"{y}\" width=\"{width}\" height=\"{lane_h}\" fill=\"{fill}\"/>\
             <text x=\"8\" y=\"{:.1}\" font-size=\"{font}\">{}</text>",
            y + lane_h * 0.5 + font as f64 * 0.35,
            esc(&lane.name)
        );
        let bar_h = match (zoom, large) {
            (true, false) => 22.0,
            (true, true) => 28.0,
            (false, _) => lane_h - 6.0,
        };
        let mut labelled = 0usize;
        for r in lane_rects(&lane.bars, &x, zoom, cap) {
            drawn += 1;
            let w = (r.x1 - r.x0).max(1.0);
            let stroke = match (r.bar.highlight, zoom) {
                (true, _) => " stroke=\"#000\" stroke-width=\"3\"",
                (false, true) => " stroke=\"#fff\" stroke-width=\"1\"",
                (false, false) => "",
            };
            let title = if r.merged > 1 {
                format!("{} requests, {}", r.merged, r.outcome.name())
            } else if r.bar.label.is_empty() {
                format!(
                    "{}, {}",
                    r.outcome.name(),
                    duration(r.bar.end_ns.saturating_sub(r.bar.start_ns) as f64)
                )
            } else {
                format!("{} ({})", r.bar.label, r.outcome.name())
            };
            let hl = if r.bar.highlight { " class=\"hl\"" } else { "" };
            let _ = write!(
                body,
                "<rect{hl} x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{}\"{stroke}><title>{}</title></rect>",
                r.x0,
                y + 3.0,
                r.outcome.colour(),
                esc(&title)
            );
            if zoom && r.bar.highlight && !r.bar.label.is_empty() {
                // Labels of neighbouring highlighted bars alternate between two rows.
                let _ = write!(
                    body,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{}\" font-weight=\"bold\">{}</text>",
                    r.x0.min(width - if large { 360.0 } else { 260.0 }),
                    y + if large {
                        50.0 + 22.0 * (labelled % 2) as f64
                    } else {
                        41.0 + 16.0 * (labelled % 2) as f64
                    },
                    if large { 20 } else { 14 },
                    esc(&r.bar.label)
                );
                labelled += 1;
            }
        }
    }
    let class = if zoom { "timeline zoomed" } else { "timeline" };
    let _ = write!(
        s,
        "<svg class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height:.0}\" \
         data-lanes=\"{}\" data-rects=\"{drawn}\" role=\"img\" aria-label=\"{}\">",
        t.lanes.len(),
        if zoom { "zoomed timeline" } else { "timeline" }
    );
    axis(&mut s, t, zoom, label_w, plot_w, top, height, font);
    s.push_str(&body);
    s.push_str("</svg>");
    s
}

/// The time axis: ticks at round times (1, 2 or 5 × a power of ten apart, about five of them),
/// relative to the start in a zoomed window.
#[allow(clippy::too_many_arguments)]
fn axis(
    s: &mut String,
    t: &Timeline,
    zoom: bool,
    label_w: f64,
    plot_w: f64,
    top: f64,
    height: f64,
    font: u32,
) {
    let span = t.end_ns.saturating_sub(t.start_ns).max(1) as f64;
    let origin = if zoom { 0.0 } else { t.start_ns as f64 };
    // About five ticks, fewer on a narrow drawing: at least six characters' room apart.
    let ticks = (plot_w / (f64::from(font) * 6.0)).clamp(2.0, 5.0);
    let step = round_step(span / ticks);
    let last = origin + span;
    let unit =
        [(1e9, "s"), (1e6, "ms"), (1e3, "µs")].into_iter().find(|(u, _)| last >= *u).unwrap_or((1.0, "ns"));
    let decimals = (-(step / unit.0).log10().floor()).max(0.0) as usize;
    let mut at = (origin / step).ceil() * step;
    while at <= last + step * 1e-9 {
        let frac = (at - origin) / span;
        let px = label_w + frac * plot_w;
        let text = format!("{}{:.decimals$} {}", if zoom { "+" } else { "" }, at / unit.0, unit.1);
        // Half a label's width (a character is about 0.6 of the type size) keeps it whole.
        let half = text.chars().count() as f64 * f64::from(font) * 0.3;
        let anchor = if px + half > label_w + plot_w + 8.0 {
            "end"
        } else if px - half < label_w - 8.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{height:.0}\" stroke=\"#bbb\"/>\
             <text x=\"{px:.1}\" y=\"{:.0}\" font-size=\"{font}\" text-anchor=\"{anchor}\">{}</text>",
            top - 6.0,
            top - 12.0,
            esc(&text)
        );
        at += step;
    }
}

/// The round step (1, 2 or 5 × a power of ten) nearest above `rough`.
fn round_step(rough: f64) -> f64 {
    let power = 10f64.powf(rough.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::page::{Ceiling, Lane};

    #[test]
    fn latencies_from_1000_us_read_in_ms() {
        assert_eq!(figure(2800.0, "µs"), "2.8 ms");
        assert_eq!(figure(999.0, "µs"), "999 µs");
        assert_eq!(figure(41_200.0, "msg/s"), "41.2k msg/s");
    }

    #[test]
    fn ceiling_columns_only_with_a_ceiling() {
        let row = |ceiling| Headline {
            label: "produce throughput".into(),
            value: 10.0,
            unit: "msg/s".into(),
            ceiling,
        };
        let mut h = String::new();
        headlines(&mut h, &[row(None)]);
        assert!(!h.contains("ceiling") && !h.contains("—"), "{h}");
        let mut h = String::new();
        headlines(&mut h, &[row(Some(Ceiling { label: "loopback echo".into(), value: 20.0 })), row(None)]);
        assert!(
            h.contains("<th>ceiling (same run)</th>") && h.contains("50%") && h.contains("<td>—</td>"),
            "{h}"
        );
    }

    #[test]
    fn a_share_above_the_ceiling_is_shown_true_and_flagged() {
        let mut h = String::new();
        let row = Headline {
            label: "produce throughput".into(),
            value: 25.0,
            unit: "msg/s".into(),
            ceiling: Some(Ceiling { label: "loopback echo".into(), value: 20.0 }),
        };
        headlines(&mut h, &[row]);
        assert!(h.contains("125%") && h.contains("a ceiling that failed to bound"), "{h}");
        assert!(h.contains("width:100.0%") && !h.contains(" 100%"), "{h}");
    }

    #[test]
    fn timeline_ticks_fall_on_round_times() {
        let t = Timeline {
            start_ns: 0,
            end_ns: 105_310_000,
            lanes: vec![Lane { name: "producer 0".into(), bars: vec![] }],
        };
        let svg = timeline_svg(&t, false, false);
        for tick in ["0 ms", "50 ms", "100 ms"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "no {tick} tick: {svg}");
        }
        assert!(!svg.contains("105.31"), "{svg}");
    }
}
