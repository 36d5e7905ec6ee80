//! [`Page`] to HTML: one string, every chart inline, nothing loaded from elsewhere.
//!
//! The page's only script runs last and records, on the `<html>` element, that it ran
//! (`data-script="ok"`), how many resources the page loaded (`data-resources`, from the
//! browser's Resource Timing; 0 for a self-contained page) and any script error
//! (`data-script-error`). A browser test reads those attributes from the DOM.

use super::charts::{self, Style};
use super::{Bar, Headline, LockRow, Outcome, Page, RunView, Timeline, ViolationView};
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
    h.push_str("<section id=\"setup\">");
    pairs(&mut h, "Configuration", &page.configuration);
    pairs(&mut h, "Machine", &page.machine);
    h.push_str("</section>\n");
    let _ = write!(h, "<div class=\"runs n{}\">", page.runs.len().min(3));
    for (i, run) in page.runs.iter().enumerate() {
        run_view(&mut h, i, run, page.classroom, style)?;
    }
    h.push_str("</div>\n");
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
    if !page.notes.is_empty() {
        h.push_str("<section id=\"notes\">");
        for n in &page.notes {
            let _ = write!(h, "<p>{}</p>", esc(n));
        }
        h.push_str("</section>\n");
    }
    legend(&mut h);
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
    violations(h, &run.violations);
    h.push_str("<section class=\"charts\">");
    if run.throughput.iter().any(|s| !s.points.is_empty()) {
        let _ = write!(
            h,
            "<figure class=\"chart\" data-chart=\"throughput\">{}</figure>",
            charts::throughput(&run.throughput, style)?
        );
    }
    if !run.latency.is_empty() {
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
            charts::scatter(&thinned, style)?
        );
    }
    h.push_str("</section>");
    locks(h, &run.locks);
    if !run.timeline.lanes.is_empty() {
        let _ = write!(
            h,
            "<section class=\"timeline\"><h3>Timeline: every request, one lane per client</h3>\
             <figure class=\"timeline-full\">{}</figure></section>",
            timeline_svg(&run.timeline, false, classroom)
        );
    }
    h.push_str("</article>\n");
    Ok(())
}

fn headlines(h: &mut String, rows: &[Headline]) {
    if rows.is_empty() {
        return;
    }
    h.push_str("<table class=\"headlines\"><tr><th>figure</th><th>measured</th><th>ceiling (same run)</th><th>share</th></tr>");
    for r in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{} {}</td>",
            esc(&r.label),
            charts::human(r.value),
            esc(&r.unit)
        );
        match &r.ceiling {
            Some(c) if c.value > 0.0 => {
                let share = (r.value / c.value * 100.0).clamp(0.0, 100.0);
                let _ = write!(
                    h,
                    "<td>{}: {}</td><td class=\"share\"><span class=\"bar\"><i style=\"width:{share:.1}%\"></i></span> {share:.0}%</td></tr>",
                    esc(&c.label),
                    charts::human(c.value)
                );
            }
            _ => h.push_str("<td>—</td><td></td></tr>"),
        }
    }
    h.push_str("</table>");
}

fn violations(h: &mut String, kinds: &[ViolationView]) {
    if kinds.is_empty() {
        h.push_str("<section class=\"violations none\"><h3>No violation found</h3></section>");
        return;
    }
    let _ = write!(
        h,
        "<section class=\"violations\"><h3>{} violation kind{} found</h3>",
        kinds.len(),
        if kinds.len() == 1 { "" } else { "s" }
    );
    for k in kinds {
        let _ = write!(
            h,
            "<div class=\"kind\" data-kind=\"{0}\"><h4><code>{0}</code> × {1}</h4><p class=\"definition\">{2}</p>",
            esc(&k.kind),
            k.count,
            esc(&k.definition)
        );
        for ex in &k.examples {
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
        h.push_str("</div>");
    }
    h.push_str("</section>");
}

fn locks(h: &mut String, rows: &[LockRow]) {
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<section class=\"locks\"><h3>Lock statistics</h3><table><tr><th>section</th><th>acquisitions</th>\
         <th>contended</th><th>wait p50</th><th>wait p99</th><th>wait max</th><th>hold p50</th><th>hold p99</th></tr>",
    );
    for r in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}%</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.section),
            charts::human(r.acquisitions as f64),
            r.contended_share * 100.0,
            duration(r.wait_p50_ns),
            duration(r.wait_p99_ns),
            duration(r.wait_max_ns),
            duration(r.hold_p50_ns),
            duration(r.hold_p99_ns)
        );
    }
    h.push_str("</table></section>");
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
    let label_w = if large { 200.0 } else { 150.0 };
    let lane_h = match (zoom, large) {
        (true, _) => 46.0,
        (false, true) => 30.0,
        (false, false) => 22.0,
    };
    let top = 34.0;
    let width = f64::from(TIMELINE_WIDTH);
    let plot_w = width - label_w - 10.0;
    let span = t.end_ns.saturating_sub(t.start_ns).max(1) as f64;
    let x = |ns: u64| label_w + (ns.saturating_sub(t.start_ns) as f64 / span * plot_w).min(plot_w);
    let height = top + lane_h * t.lanes.len() as f64 + 6.0;
    let cap = MAX_WINDOW_BARS / t.lanes.len().max(1);
    let font = if large { 20 } else { 15 };
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
        let bar_h = if zoom { 22.0 } else { lane_h - 6.0 };
        for r in lane_rects(&lane.bars, &x, zoom, cap) {
            drawn += 1;
            let w = (r.x1 - r.x0).max(1.0);
            let stroke = if r.bar.highlight { " stroke=\"#000\" stroke-width=\"3\"" } else { "" };
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
            if zoom && !r.bar.label.is_empty() && (r.bar.highlight || w > 90.0) {
                let _ = write!(
                    body,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\"{}>{}</text>",
                    r.x0,
                    y + 40.0,
                    if r.bar.highlight { " font-weight=\"bold\"" } else { "" },
                    esc(&r.bar.label)
                );
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
    for k in 0..=5 {
        let frac = f64::from(k) / 5.0;
        let px = label_w + frac * plot_w;
        let at = span * frac;
        let text = if zoom { format!("+{}", duration(at)) } else { duration(t.start_ns as f64 + at) };
        let anchor = if k == 5 {
            "end"
        } else if k == 0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{height:.0}\" stroke=\"#bbb\"/>\
             <text x=\"{px:.1}\" y=\"20\" font-size=\"{font}\" text-anchor=\"{anchor}\">{}</text>",
            top - 6.0,
            esc(&text)
        );
    }
    s.push_str(&body);
    s.push_str("</svg>");
    s
}
