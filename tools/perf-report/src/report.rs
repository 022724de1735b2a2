//! Results of a run, kept in `docs/perf/results.json`, and their rendering into the
//! generated regions of `docs/PERFORMANCE.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// A figure another issue asked for, with the goal it was to meet.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Goal {
    /// The issue that asked for it ("#5 structures").
    pub issue: String,
    /// What is measured.
    pub figure: String,
    /// The measured value.
    pub result: String,
    /// The baseline, measured in the same run.
    pub baseline: String,
    /// Result relative to the baseline.
    pub ratio: String,
    /// The goal.
    pub goal: String,
    /// Met (`Some(true)`), missed (`Some(false)`) or a figure without a pass/fail goal.
    pub met: Option<bool>,
}

impl Goal {
    /// A goal row.
    pub fn new(issue: &str, figure: &str) -> Self {
        Goal {
            issue: issue.into(),
            figure: figure.into(),
            ..Goal::default()
        }
    }
    /// Sets the measured value.
    pub fn result(mut self, s: impl Into<String>) -> Self {
        self.result = s.into();
        self
    }
    /// Sets the baseline.
    pub fn baseline(mut self, s: impl Into<String>) -> Self {
        self.baseline = s.into();
        self
    }
    /// Sets the ratio.
    pub fn ratio(mut self, s: impl Into<String>) -> Self {
        self.ratio = s.into();
        self
    }
    /// Sets the goal and whether it was met.
    pub fn goal(mut self, s: impl Into<String>, met: Option<bool>) -> Self {
        self.goal = s.into();
        self.met = met;
        self
    }
}

/// What one group produced.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Markdown for the group's region (tables, plot references).
    pub markdown: String,
    /// Goal rows for the summary table.
    pub goals: Vec<Goal>,
    /// When it was measured.
    pub when: String,
    /// Load average at the group's start → end.
    pub load: String,
    /// Measured with `--quick`.
    pub quick: bool,
    /// Wall time of the group.
    pub seconds: f64,
    /// Host-noise probe per round: the share of 20 ms of spinning the probe thread did not
    /// get the CPU (`harness::noise_probe`).
    #[serde(default)]
    pub noise: Vec<f64>,
}

impl GroupRecord {
    /// A record with the given markdown and goals.
    pub fn new(markdown: String, goals: Vec<Goal>) -> Self {
        GroupRecord {
            markdown,
            goals,
            ..GroupRecord::default()
        }
    }
}

/// Everything `docs/PERFORMANCE.md` shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// Machine description of the last run.
    pub machine: String,
    /// The exact command of the last run.
    pub command: String,
    /// Wall time of the last run.
    pub seconds: f64,
    /// The last run was `--quick`.
    pub quick: bool,
    /// Groups the last run measured.
    pub ran: Vec<String>,
    /// Every group's last results.
    pub groups: BTreeMap<String, GroupRecord>,
}

/// "median 1.2× · worst 0.6× (5 rounds)" for per-round ratios; `lower_is_better` picks
/// which end of the spread is the worst round.
pub fn median_worst(s: &crate::harness::Spread, rounds: usize, lower_is_better: bool) -> String {
    let worst = if lower_is_better { s.max } else { s.min };
    format!(
        "median {} · worst {} ({rounds} rounds)",
        crate::harness::ratio(s.med),
        crate::harness::ratio(worst)
    )
}

/// A Markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(
        s,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "(figure)",
    }
}

fn region(name: &str, results: &Results) -> Option<String> {
    match name {
        "machine" => {
            let mut s = format!(
                "{}\n\nCommand:\n\n```sh\n{}\n```\n\n",
                results.machine, results.command
            );
            let _ = write!(
                s,
                "The last run took {:.0} s{} and measured: {}.",
                results.seconds,
                if results.quick { " (`--quick`)" } else { "" },
                results.ran.join(", ")
            );
            let stale: Vec<String> = results
                .groups
                .iter()
                .filter(|(g, _)| !results.ran.contains(g))
                .map(|(g, r)| format!("{g} ({}, load {})", r.when, r.load))
                .collect();
            if !stale.is_empty() {
                let _ = write!(s, " Kept from earlier runs: {}.", stale.join("; "));
            }
            s.push('\n');
            Some(s)
        }
        "summary" => {
            let mut rows = Vec::new();
            for g in crate::GROUPS {
                if let Some(r) = results.groups.get(*g) {
                    for goal in &r.goals {
                        rows.push(vec![
                            goal.issue.clone(),
                            goal.figure.clone(),
                            goal.result.clone(),
                            goal.baseline.clone(),
                            goal.ratio.clone(),
                            goal.goal.clone(),
                            met(goal.met).to_string(),
                        ]);
                    }
                }
            }
            Some(table(
                &[
                    "issue",
                    "figure",
                    "result",
                    "baseline (same run)",
                    "ratio",
                    "goal",
                    "",
                ],
                &rows,
            ))
        }
        g => results.groups.get(g).map(|r| {
            format!(
                "{}\n_Measured {}, load average {}, {:.0} s{}._\n",
                r.markdown.trim_end(),
                r.when,
                r.load,
                r.seconds,
                if r.quick { ", `--quick`" } else { "" }
            )
        }),
    }
}

/// Replaces the body of every `<!-- generated:NAME -->` … `<!-- end:NAME -->` region of
/// `template` for which there are results; other text is kept as it is.
pub fn render(template: &str, results: &Results) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    let open = "<!-- generated:";
    while let Some(at) = rest.find(open) {
        let after = &rest[at + open.len()..];
        let close = after
            .find("-->")
            .ok_or_else(|| "unterminated generated marker".to_string())?;
        let name = after[..close].trim();
        let start_body = at + open.len() + close + 3;
        let end_marker = format!("<!-- end:{name} -->");
        let end = rest[start_body..]
            .find(&end_marker)
            .ok_or_else(|| format!("no {end_marker} after <!-- generated:{name} -->"))?
            + start_body;
        out.push_str(&rest[..start_body]);
        match region(name, results) {
            Some(body) => {
                out.push('\n');
                out.push_str(body.trim_end());
                out.push('\n');
            }
            None => out.push_str(&rest[start_body..end]),
        }
        out.push_str(&end_marker);
        rest = &rest[end + end_marker.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results_with(group: &str, markdown: &str) -> Results {
        let mut r = Results::default();
        r.groups.insert(
            group.to_string(),
            GroupRecord::new(
                markdown.to_string(),
                vec![
                    Goal::new("#1 x", "a figure")
                        .result("3 ns")
                        .goal("< 5 ns", Some(true)),
                ],
            ),
        );
        r
    }

    #[test]
    fn render_replaces_only_regions_with_results_and_keeps_the_prose() {
        let template = "intro prose\n<!-- generated:micro -->\nold table\n<!-- end:micro -->\n\
                        analysis\n<!-- generated:latency -->\nkept\n<!-- end:latency -->\ntail\n";
        let out = render(template, &results_with("micro", "NEW TABLE")).expect("render");
        assert!(out.starts_with("intro prose\n<!-- generated:micro -->\nNEW TABLE"));
        assert!(!out.contains("old table"));
        assert!(out.contains("<!-- end:micro -->\nanalysis\n"));
        // No results for `latency`: its old body stays.
        assert!(out.contains("<!-- generated:latency -->\nkept\n<!-- end:latency -->\ntail\n"));
    }

    #[test]
    fn rendering_twice_is_stable() {
        let template = "a\n<!-- generated:micro -->\n<!-- end:micro -->\nb\n";
        let r = results_with("micro", "T");
        let once = render(template, &r).expect("render");
        assert_eq!(render(&once, &r).expect("render"), once);
    }

    #[test]
    fn summary_lists_goals_with_met_flags() {
        let template = "<!-- generated:summary -->\n<!-- end:summary -->";
        let out = render(template, &results_with("micro", "T")).expect("render");
        assert!(out.contains("| #1 x | a figure | 3 ns |"));
        assert!(out.contains("< 5 ns | **met** |"));
    }

    #[test]
    fn a_missing_end_marker_is_an_error() {
        let err = render("<!-- generated:micro -->\nno end", &Results::default());
        assert!(err.is_err());
    }
}
