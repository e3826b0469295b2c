//! `custodian evaluate --sweep`: detection judged over a grid of honest
//! backgrounds x seeds, never at one setting.
//!
//! Rules:
//! - Every grid point ([`custodian_sim::sweep_grid`], or the points named
//!   by `--grid`) is simulated at each seed, detected with the same engine
//!   and settings `custodian detect` uses, and scored against its truth.
//! - One line per grid point (aggregated over its seeds), then the worst
//!   point: the goal holds only if it holds there.
//! - In the CERT layout only what that layout can show is scored: the CERT
//!   scenarios are the insiders; the other planted insiders (whose acts are
//!   document events CERT has no file for) are left out of both counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use custodian_sim::{generate, sweep_grid, GridPoint, Layout, SimConfig};

use super::detect::{detect_folder, write_alerts, Format};
use super::evaluate::{read_truth, score, Args, Scorecard};
use crate::settings::Settings;

/// What the CERT layout shows.
const CERT_KINDS: [&str; 3] = [
    "leak-site-after-hours",
    "job-hunt-then-usb",
    "sysadmin-keylogger",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SweepLayout {
    Interchange,
    #[value(name = "cert-r4.2")]
    CertR42,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Sweep: grid points to run, comma-separated names (default: all of
    /// them; `custodian evaluate --sweep --grid list` names them).
    #[arg(long, value_name = "NAMES")]
    pub grid: Option<String>,
    /// Sweep: seeds per grid point.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Sweep: the first seed (the others follow it).
    #[arg(long, default_value_t = 101)]
    pub first_seed: u64,
    /// Sweep: the layout the companies are written in.
    #[arg(long, value_enum, default_value = "interchange")]
    pub layout: SweepLayout,
    /// Sweep: keep each company's dataset, truth and alerts under this
    /// folder (default: a temporary folder, removed).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// One company of the sweep.
#[derive(Debug, Serialize)]
struct Run {
    point: String,
    layout: &'static str,
    seed: u64,
    events: u64,
    detect_seconds: f64,
    card: Scorecard,
}

/// One grid point over its seeds.
#[derive(Debug, Serialize)]
struct PointSummary {
    point: String,
    layout: &'static str,
    background: String,
    caught: usize,
    insiders: usize,
    missed_kinds: Vec<String>,
    false_rate_mean: f64,
    false_rate_max: f64,
    recall_at_budget_min: f64,
    median_days_to_alert: Option<f64>,
    escalation_before_development_data: (usize, usize),
}

fn points(args: &SweepArgs) -> Result<Vec<GridPoint>> {
    let all = sweep_grid();
    let Some(names) = &args.grid else {
        return Ok(all);
    };
    let mut out = Vec::new();
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match all.iter().find(|p| p.name == n) {
            Some(p) => out.push(p.clone()),
            None => bail!(
                "no grid point `{n}`; the grid: {}",
                all.iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

pub fn run(settings: &Settings, args: &Args) -> Result<ExitCode> {
    let sw = &args.grid;
    if sw.grid.as_deref() == Some("list") {
        for p in sweep_grid() {
            println!("{:<16} {}", p.name, p.background);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let grid = points(sw)?;
    let people = args.people.unwrap_or(1000) as usize;
    let days = args.days.unwrap_or(150.0).round().max(20.0) as u32;
    let layouts: Vec<Layout> = match sw.layout {
        SweepLayout::Interchange => vec![Layout::Interchange],
        SweepLayout::CertR42 => vec![Layout::CertR42],
        SweepLayout::Both => vec![Layout::Interchange, Layout::CertR42],
    };
    let tmp;
    let work = match &sw.keep {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot make a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    if !args.json {
        println!(
            "sweep: {} grid points x {} seeds ({}..{}), {people} people, {days} days; budget {} people per 1,000 per 30 days",
            grid.len(),
            sw.seeds,
            sw.first_seed,
            sw.first_seed + sw.seeds.saturating_sub(1),
            args.budget
        );
        println!(
            "{:<16} {:<11} {:>9} {:>17} {:>10} {:>9}  missed",
            "point", "layout", "caught", "false/1000/30d", "recall@bud", "days-to"
        );
    }
    let started = Instant::now();
    let mut runs: Vec<Run> = Vec::new();
    let mut summaries = Vec::new();
    for layout in &layouts {
        for p in &grid {
            let mut these = Vec::new();
            for s in 0..sw.seeds {
                let seed = sw.first_seed + s;
                these.push(run_one(
                    settings, args, &work, p, *layout, seed, people, days,
                )?);
            }
            let sum = summarise(p, *layout, &these);
            if !args.json {
                print_point(&sum);
            }
            summaries.push(sum);
            runs.extend(these);
        }
    }
    let worst_false = runs
        .iter()
        .max_by(|a, b| a.card.false_alert_rate.total_cmp(&b.card.false_alert_rate));
    let worst_recall = runs.iter().min_by(|a, b| {
        let r = |x: &Run| x.card.caught as f64 / x.card.insiders.len().max(1) as f64;
        r(a).total_cmp(&r(b))
    });
    let all_caught = summaries.iter().all(|s| s.caught == s.insiders);
    let worst_rate = worst_false.map_or(0.0, |r| r.card.false_alert_rate);
    let met = all_caught && worst_rate <= 3.0;
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            points: &'a [PointSummary],
            runs: &'a [Run],
            worst_false_rate: f64,
            every_kind_caught_everywhere: bool,
            goal_met: bool,
            seconds: f64,
        }
        crate::output::json(&Out {
            points: &summaries,
            runs: &runs,
            worst_false_rate: worst_rate,
            every_kind_caught_everywhere: all_caught,
            goal_met: met,
            seconds: started.elapsed().as_secs_f64(),
        })?;
    } else {
        if let Some(r) = worst_false {
            println!(
                "worst point for false alerts: {} ({}) seed {}: {:.2} per 1,000 people per 30 days ({} people: {})",
                r.point,
                r.layout,
                r.seed,
                r.card.false_alert_rate,
                r.card.false_alerted.len(),
                r.card.false_alerted.iter().take(8).cloned().collect::<Vec<_>>().join(" ")
            );
        }
        if let Some(r) = worst_recall {
            let missed: Vec<String> = r
                .card
                .insiders
                .iter()
                .filter(|i| !i.caught)
                .map(|i| format!("{} ({})", i.user, i.kind))
                .collect();
            println!(
                "worst point for recall: {} ({}) seed {}: {} of {} caught{}",
                r.point,
                r.layout,
                r.seed,
                r.card.caught,
                r.card.insiders.len(),
                if missed.is_empty() {
                    String::new()
                } else {
                    format!("; missed {}", missed.join(", "))
                }
            );
        }
        println!(
            "goal (every insider kind caught at every point, <= 3 false people per 1,000 per 30 days at the worst): {} ({:.0} s)",
            if met { "met" } else { "NOT met" },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    settings: &Settings,
    args: &Args,
    work: &std::path::Path,
    p: &GridPoint,
    layout: Layout,
    seed: u64,
    people: usize,
    days: u32,
) -> Result<Run> {
    let tag = match layout {
        Layout::Interchange => "interchange",
        Layout::CertR42 => "cert-r4.2",
    };
    let name = format!("{}-{tag}-{seed}", p.name);
    let dir = work.join(&name);
    // Named by hand: `with_extension` would cut `cert-r4.2-101` at its dot.
    let truth_path = work.join(format!("{name}.truth.jsonl"));
    let alerts_path = work.join(format!("{name}.alerts.jsonl"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let stats = generate(
        &SimConfig {
            people,
            days,
            seed,
            truth: Some(truth_path.clone()),
            background: p.background.clone(),
            layout,
            ..Default::default()
        },
        &dir,
    )
    .with_context(|| format!("cannot write {}", dir.display()))?;
    let format = match layout {
        Layout::Interchange => Format::Interchange,
        Layout::CertR42 => Format::CertR42,
    };
    let (alerts, summary) = detect_folder(
        settings,
        &dir,
        format,
        &super::detect::FolderOptions {
            rejects: Some(work.join(format!("{name}.rejects.jsonl"))),
            ..Default::default()
        },
    )?;
    write_alerts(&alerts_path, &alerts)?;
    let mut truth = read_truth(&truth_path)?;
    let mut ignored = BTreeSet::new();
    if layout == Layout::CertR42 {
        for t in &truth {
            if t.insider && !CERT_KINDS.contains(&t.kind.as_str()) {
                ignored.insert(t.user.clone());
            }
        }
        truth.retain(|t| !ignored.contains(&t.user));
    }
    let card = score(
        &truth,
        &alerts_path,
        (people - ignored.len()) as u64,
        f64::from(days),
        args.budget,
    )?;
    let mut card = card;
    card.false_alerted.retain(|u| !ignored.contains(u));
    card.false_alert_rate = (card.false_alerted.len() as f64
        / (card.people.max(1) as f64 / 1000.0)
        / (card.days / 30.0)
        * 100.0)
        .round()
        / 100.0;
    if args.grid.keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(Run {
        point: p.name.clone(),
        layout: tag,
        seed,
        events: stats.events,
        detect_seconds: summary.detect_seconds,
        card,
    })
}

fn summarise(p: &GridPoint, layout: Layout, runs: &[Run]) -> PointSummary {
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut days_to = Vec::new();
    let mut esc = (0, 0);
    for r in runs {
        for i in &r.card.insiders {
            let e = kinds.entry(i.kind.as_str()).or_default();
            e.0 += usize::from(i.caught);
            e.1 += 1;
            days_to.extend(i.days_to_alert);
            if let Some(b) = i.before_development_data {
                esc.0 += usize::from(b);
                esc.1 += 1;
            }
        }
    }
    let rates: Vec<f64> = runs.iter().map(|r| r.card.false_alert_rate).collect();
    PointSummary {
        point: p.name.clone(),
        layout: match layout {
            Layout::Interchange => "interchange",
            Layout::CertR42 => "cert-r4.2",
        },
        background: p.background.to_string(),
        caught: runs.iter().map(|r| r.card.caught).sum(),
        insiders: runs.iter().map(|r| r.card.insiders.len()).sum(),
        missed_kinds: kinds
            .iter()
            .filter(|(_, (c, n))| c < n)
            .map(|(k, (c, n))| format!("{k} {c}/{n}"))
            .collect(),
        false_rate_mean: (rates.iter().sum::<f64>() / rates.len().max(1) as f64 * 100.0).round()
            / 100.0,
        false_rate_max: rates.iter().copied().fold(0.0, f64::max),
        recall_at_budget_min: runs
            .iter()
            .map(|r| r.card.recall_at_budget)
            .fold(1.0, f64::min),
        median_days_to_alert: median(days_to),
        escalation_before_development_data: esc,
    }
}

fn print_point(s: &PointSummary) {
    let esc = if s.escalation_before_development_data.1 > 0 {
        format!(
            " (story before dev data {}/{})",
            s.escalation_before_development_data.0, s.escalation_before_development_data.1
        )
    } else {
        String::new()
    };
    println!(
        "{:<16} {:<11} {:>4}/{:<4} {:>6.2} (max {:>5.2}) {:>9.0}% {:>9}  {}{esc}",
        s.point,
        s.layout,
        s.caught,
        s.insiders,
        s.false_rate_mean,
        s.false_rate_max,
        s.recall_at_budget_min * 100.0,
        s.median_days_to_alert
            .map_or("-".into(), |d| format!("{d:.1}")),
        if s.missed_kinds.is_empty() {
            "-".to_string()
        } else {
            s.missed_kinds.join(", ")
        }
    );
}
