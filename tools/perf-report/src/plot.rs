//! SVG plots (plotters, SVG backend only).

use std::path::Path;

use plotters::prelude::*;

use crate::harness::Lat;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Draws `chart`'s series legend in its lower right corner, on a translucent white box.
macro_rules! legend {
    ($chart:expr) => {
        $chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?
    };
}

/// A chart on `area` captioned `title` in sans-serif of the given size, with a 12 px margin
/// and label areas of `(x, y)` pixels.
fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
    (title, size): (&str, u32),
    (x, y): (u32, u32),
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", size))
        .margin(12)
        .x_label_area_size(x)
        .y_label_area_size(y);
    b
}

fn warn(path: &Path, r: Res) {
    if let Err(e) = r {
        eprintln!("plot {}: {e}", path.display());
    }
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

fn si(v: f64) -> String {
    let t = |x: f64| {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if v >= 1e6 {
        format!("{}M", t(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", t(v / 1e3))
    } else {
        t(v)
    }
}

/// Round-trip CDFs (x: µs, log scale).
pub fn cdf(path: &Path, title: &str, series: &[(String, &Lat)]) {
    let draw = || -> Res {
        let all: Vec<f64> = series
            .iter()
            .filter(|(_, l)| l.len() > 0)
            .flat_map(|(_, l)| [l.p(0.0) / 1e3, l.p(0.999) / 1e3])
            .collect();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min).max(0.01) * 0.8;
        let hi = all.iter().copied().fold(0.0, f64::max).max(lo * 10.0) * 1.2;
        let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = builder(&root, (title, 20), (45, 55))
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("round trip (µs, log scale)")
            .y_desc("fraction of round trips ≤ x")
            .x_label_formatter(&|v| si(*v))
            .draw()?;
        for (i, (name, l)) in series.iter().enumerate() {
            if l.len() == 0 {
                continue;
            }
            let n = l.0.len();
            let step = (n / 400).max(1);
            let pts: Vec<(f64, f64)> = (0..n)
                .step_by(step)
                .chain(std::iter::once(n - 1))
                .filter(|&k| k * 1000 <= n * 999)
                .map(|k| ((l.0[k] as f64 / 1e3).max(lo), (k + 1) as f64 / n as f64))
                .collect();
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        legend!(chart);
        root.present()?;
        Ok(())
    };
    warn(path, draw());
}

/// Line plot of (x, y) series, optionally log-scaled on either axis.
pub fn lines(
    path: &Path,
    title: &str,
    xdesc: &str,
    ydesc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_x: bool,
    log_y: bool,
) {
    let draw = || -> Res {
        let (x0, x1) = bounds(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let (y0, y1) = bounds(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
        let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut b = builder(&root, (title, 20), (45, 60));
        macro_rules! draw {
            ($chart:expr, $xfmt:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(xdesc)
                    .y_desc(ydesc)
                    .x_label_formatter(&$xfmt)
                    .draw()?;
                for (i, (name, pts)) in series.iter().enumerate() {
                    let c = color(i);
                    let pts: Vec<(f64, f64)> = pts
                        .iter()
                        .copied()
                        .filter(|p| p.1.is_finite() && p.1 > 0.0)
                        .collect();
                    chart
                        .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
                }
                legend!(chart);
            }};
        }
        let (yl, yh) = if log_y {
            (y0 * 0.5, y1 * 2.0)
        } else {
            (0.0, y1 * 1.15)
        };
        match (log_x, log_y) {
            (true, true) => draw!(
                b.build_cartesian_2d((x0 * 0.7..x1 * 1.4).log_scale(), (yl..yh).log_scale())?,
                |v: &f64| si(*v)
            ),
            (false, true) => draw!(
                b.build_cartesian_2d(x0 - 0.5..x1 + 0.5, (yl..yh).log_scale())?,
                |v: &f64| format!("{v}")
            ),
            (true, false) => draw!(
                b.build_cartesian_2d((x0 * 0.7..x1 * 1.4).log_scale(), yl..yh)?,
                |v: &f64| si(*v)
            ),
            (false, false) => draw!(
                b.build_cartesian_2d(x0 - 0.5..x1 + 0.5, yl..yh)?,
                |v: &f64| format!("{v}")
            ),
        }
        root.present()?;
        Ok(())
    };
    warn(path, draw());
}

fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = v.filter(|x| x.is_finite() && *x > 0.0).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    if lo.is_finite() {
        (lo, hi)
    } else {
        (1.0, 10.0)
    }
}

/// Draws a figure into `img/file` with `draw` and appends its image link, described by
/// `alt`, to the group's markdown `md`.
pub fn embed(md: &mut String, img: &Path, file: &str, alt: &str, draw: impl FnOnce(&Path)) {
    draw(&img.join(file));
    md.push_str(&format!("\n![{alt}](img/{file})\n"));
}

/// Horizontal bars on a log scale (values > 0).
pub fn bars(path: &Path, title: &str, bars: &[(String, f64)]) {
    let draw = || -> Res {
        let (lo, hi) = bounds(bars.iter().map(|b| b.1));
        let (lo, hi) = (lo / 4.0, hi * 4.0);
        let n = bars.len();
        let root = SVGBackend::new(path, (960, 80 + 60 * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = builder(&root, (title, 20), (40, 10))
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("% of one CPU")
            .draw()?;
        for (i, (label, v)) in bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let v = v.max(lo);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(lo, y + 0.15), (v, y + 0.85)],
                color(i).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{label}: {:.3} %", v),
                (lo * 1.1, y + 0.5),
                ("sans-serif", 15).into_font().color(&BLACK),
            )))?;
        }
        root.present()?;
        Ok(())
    };
    warn(path, draw());
}

/// One series of a category plot: a label and, per category, the median and the measured
/// spread (min–max over the rounds).
pub type SpreadSeries = (String, Vec<crate::harness::Spread>);

/// Medians with min–max whiskers over discrete categories (e.g. k = 1, 2, 4), on a log y axis
/// labelled at 1-2-5 steps, with the legend beside the plot so it never covers a point.
pub fn categories(
    path: &Path,
    title: &str,
    xdesc: &str,
    ydesc: &str,
    cats: &[String],
    series: &[SpreadSeries],
) {
    let draw = || -> Res {
        let (lo, hi) = bounds(
            series
                .iter()
                .flat_map(|(_, v)| v.iter().flat_map(|s| [s.min, s.med, s.max])),
        );
        let (yl, yh) = (lo / 1.6, hi * 1.6);
        let root = SVGBackend::new(path, (1120, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(760);
        let n = cats.len().max(1);
        let mut chart = builder(&plot_area, (title, 18), (45, 60))
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (yl..yh).log_scale())?;
        let ticks = steps125(yl, yh);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_labels(n)
            .x_desc(xdesc)
            .y_desc(ydesc)
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    cats.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(0)
            .y_label_formatter(&|_| String::new())
            .draw()?;
        // The 1-2-5 labels and grid lines, drawn by hand: plotters labels a log axis only at
        // powers of ten, which leaves a line at 2-3 M without a label.
        for &t in &ticks {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, t), (n as f64 - 0.5, t)],
                BLACK.mix(0.1),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                si(t),
                (-0.5, t),
                ("sans-serif", 13).into_font().color(&BLACK).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Right,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                ),
            )))?;
        }
        let width = 0.5 / series.len().max(1) as f64;
        for (i, (_, v)) in series.iter().enumerate() {
            let c = color(i);
            // Offset each series a little inside its category so whiskers do not overlap.
            let dx = (i as f64 - (series.len() as f64 - 1.0) / 2.0) * width * 0.5;
            let pts: Vec<(f64, f64)> = v
                .iter()
                .enumerate()
                .filter(|(_, s)| s.med.is_finite() && s.med > 0.0)
                .map(|(j, s)| (j as f64 + dx, s.med))
                .collect();
            chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
            for (j, s) in v.iter().enumerate() {
                if !(s.min.is_finite() && s.max.is_finite() && s.min > 0.0) {
                    continue;
                }
                let x = j as f64 + dx;
                let cap = width * 0.15;
                for seg in [
                    vec![(x, s.min), (x, s.max)],
                    vec![(x - cap, s.min), (x + cap, s.min)],
                    vec![(x - cap, s.max), (x + cap, s.max)],
                ] {
                    chart.draw_series(std::iter::once(PathElement::new(seg, c.stroke_width(1))))?;
                }
            }
        }
        // The legend, beside the plot.
        for (i, (name, _)) in series.iter().enumerate() {
            let y = 60 + 26 * i as i32;
            let c = color(i);
            legend_area.draw(&PathElement::new(vec![(8, y), (36, y)], c.stroke_width(3)))?;
            legend_area.draw(&Text::new(
                name.clone(),
                (44, y - 8),
                ("sans-serif", 14).into_font().color(&BLACK),
            ))?;
        }
        legend_area.draw(&Text::new(
            "dot: median; whiskers: min–max",
            (8, 70 + 26 * series.len() as i32),
            ("sans-serif", 12).into_font().color(&BLACK.mix(0.7)),
        ))?;
        root.present()?;
        Ok(())
    };
    warn(path, draw());
}

/// 1-2-5 steps from below `lo` to above `hi`: the log axis gets a label in every decade.
fn steps125(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi * 10.0 && out.len() < 64 {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}
