//! `custodian evaluate`: a scorecard of alerts against a ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ground truth (JSONL: user, insider, kind, first_misdeed, …).
    #[arg(long, value_name = "FILE", required_unless_present = "sweep")]
    pub truth: Option<PathBuf>,
    /// The alerts `custodian detect` wrote.
    #[arg(long, value_name = "FILE", required_unless_present = "sweep")]
    pub alerts: Option<PathBuf>,
    /// The dataset folder, for the number of people and days (default: the
    /// truth file's folder).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// People in the population (instead of counting directory.csv).
    #[arg(long)]
    pub people: Option<u64>,
    /// Days covered (instead of the span of events.jsonl's first and last day).
    #[arg(long)]
    pub days: Option<f64>,
    /// The alert budget recall is measured at: people per 1,000 per 30 days.
    #[arg(long, default_value_t = 3.0)]
    pub budget: f64,
    #[arg(long)]
    pub json: bool,
    /// Instead: simulate a grid of honest backgrounds x seeds, detect, and
    /// score each (see `custodian evaluate --sweep --help`).
    #[arg(long)]
    pub sweep: bool,
    #[command(flatten)]
    pub grid: super::sweep::SweepArgs,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthLine {
    pub user: String,
    #[serde(default = "yes")]
    pub insider: bool,
    #[serde(default)]
    pub kind: String,
    pub first_misdeed: Option<DateTime<FixedOffset>>,
    pub development_data_at: Option<DateTime<FixedOffset>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
struct AlertLine {
    user: String,
    raised_at: DateTime<FixedOffset>,
    severity: String,
    #[serde(default)]
    score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InsiderScore {
    pub user: String,
    pub kind: String,
    pub caught: bool,
    pub first_alert: Option<DateTime<FixedOffset>>,
    pub days_to_alert: Option<f64>,
    /// Escalation cases: alerted before development data was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_development_data: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub insiders: Vec<InsiderScore>,
    pub caught: usize,
    pub missed: usize,
    pub people: u64,
    pub days: f64,
    /// People not in the truth as insiders alerted at medium or above.
    pub false_alerted: Vec<String>,
    /// …per 1,000 people per 30 days.
    pub false_alert_rate: f64,
    /// Caught and planted, per insider kind.
    pub by_kind: BTreeMap<String, (usize, usize)>,
    /// The budget (people per 1,000 per 30 days) recall is measured at,
    /// how many people that is here, and the share of insiders among the
    /// highest-scored that many people (alerted after their first misdeed).
    pub budget: f64,
    pub budget_people: usize,
    pub recall_at_budget: f64,
}

fn lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, l) in std::io::BufReader::new(f).lines().enumerate() {
        let l = l.with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if !l.trim().is_empty() {
            out.push((i + 1, l));
        }
    }
    Ok(out)
}

/// Counts directory.csv's rows and the days from the first to the last event.
fn population(dir: &Path) -> Result<(u64, f64)> {
    let people = lines(&dir.join("directory.csv"))?.len().saturating_sub(1) as u64;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut scan = |l: &str| {
        if let Some(p) = l.find("\"ts\":\"") {
            if let Some(ts) = l.get(p + 6..).and_then(|s| s.split('"').next()) {
                if let Ok(t) = DateTime::parse_from_rfc3339(ts) {
                    lo = lo.min(t.timestamp());
                    hi = hi.max(t.timestamp());
                }
            }
        }
    };
    let plain = dir.join("events.jsonl");
    if plain.exists() {
        let f = std::fs::File::open(&plain)?;
        for l in std::io::BufReader::new(f).lines() {
            scan(&l?);
        }
    } else {
        let f = std::fs::File::open(dir.join("events.jsonl.gz"))?;
        for l in std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f)).lines() {
            scan(&l?);
        }
    }
    if lo > hi {
        bail!(
            "{}: no events to take the period from; give --days",
            dir.display()
        );
    }
    Ok((people, ((hi - lo) as f64 / 86_400.0).ceil().max(1.0)))
}

pub fn score(
    truth: &[TruthLine],
    alerts_path: &Path,
    people: u64,
    days: f64,
    budget: f64,
) -> Result<Scorecard> {
    let mut first: BTreeMap<String, Vec<(DateTime<FixedOffset>, String, f64)>> = BTreeMap::new();
    for (n, l) in lines(alerts_path)? {
        let a: AlertLine = serde_json::from_str(&l)
            .with_context(|| format!("{}: line {n}", alerts_path.display()))?;
        first
            .entry(a.user)
            .or_default()
            .push((a.raised_at, a.severity, a.score));
    }
    let actionable = |s: &str| s == "medium" || s == "high";
    let insiders: BTreeSet<&str> = truth
        .iter()
        .filter(|t| t.insider)
        .map(|t| t.user.as_str())
        .collect();
    let mut rows = Vec::new();
    for t in truth.iter().filter(|t| t.insider) {
        let from = t.first_misdeed;
        let hit = first.get(&t.user).and_then(|v| {
            v.iter()
                .filter(|(at, s, _)| actionable(s) && from.is_none_or(|f| *at >= f))
                .map(|(at, _, _)| *at)
                .min()
        });
        rows.push(InsiderScore {
            user: t.user.clone(),
            kind: t.kind.clone(),
            caught: hit.is_some(),
            first_alert: hit,
            days_to_alert: match (hit, from) {
                (Some(h), Some(f)) => {
                    Some(((h - f).num_seconds() as f64 / 86_400.0 * 10.0).round() / 10.0)
                }
                _ => None,
            },
            before_development_data: t.development_data_at.map(|d| hit.is_some_and(|h| h < d)),
        });
    }
    let false_alerted: Vec<String> = first
        .iter()
        .filter(|(u, v)| !insiders.contains(u.as_str()) && v.iter().any(|(_, s, _)| actionable(s)))
        .map(|(u, _)| u.clone())
        .collect();
    let rate = false_alerted.len() as f64 / (people.max(1) as f64 / 1000.0) / (days / 30.0);
    let caught = rows.iter().filter(|r| r.caught).count();
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let e = by_kind.entry(r.kind.clone()).or_default();
        e.0 += usize::from(r.caught);
        e.1 += 1;
    }
    // Recall at a fixed budget: rank everyone by their highest score (an
    // insider's only from alerts after their first misdeed) and take as
    // many people as the budget allows.
    let first_misdeed: BTreeMap<&str, Option<DateTime<FixedOffset>>> = truth
        .iter()
        .filter(|t| t.insider)
        .map(|t| (t.user.as_str(), t.first_misdeed))
        .collect();
    let mut ranked: Vec<(f64, bool)> = first
        .iter()
        .filter_map(|(u, v)| {
            let from = first_misdeed.get(u.as_str()).copied().flatten();
            let best = v
                .iter()
                .filter(|(at, _, _)| from.is_none_or(|f| *at >= f))
                .map(|(_, _, s)| *s)
                .fold(f64::NEG_INFINITY, f64::max);
            best.is_finite()
                .then_some((best, first_misdeed.contains_key(u.as_str())))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let budget_people = (budget * people as f64 / 1000.0 * days / 30.0).round() as usize;
    let in_budget = ranked
        .iter()
        .take(budget_people)
        .filter(|(_, insider)| *insider)
        .count();
    let recall_at_budget = if rows.is_empty() {
        1.0
    } else {
        in_budget as f64 / rows.len() as f64
    };
    Ok(Scorecard {
        missed: rows.len() - caught,
        caught,
        insiders: rows,
        people,
        days,
        false_alerted,
        false_alert_rate: (rate * 100.0).round() / 100.0,
        by_kind,
        budget,
        budget_people,
        recall_at_budget: (recall_at_budget * 1000.0).round() / 1000.0,
    })
}

pub fn read_truth(path: &Path) -> Result<Vec<TruthLine>> {
    lines(path)?
        .into_iter()
        .map(|(n, l)| {
            serde_json::from_str(&l).with_context(|| format!("{}: line {n}", path.display()))
        })
        .collect()
}

pub fn print_scorecard(s: &Scorecard) {
    println!(
        "scorecard: {} of {} planted insiders caught",
        s.caught,
        s.insiders.len()
    );
    for r in &s.insiders {
        let when = match (r.caught, r.days_to_alert) {
            (true, Some(d)) => format!("caught, {d:.1} days after the first misdeed"),
            (true, None) => "caught".into(),
            _ => "MISSED".into(),
        };
        let dev = match r.before_development_data {
            Some(true) => ", before reaching development data",
            Some(false) => ", NOT before reaching development data",
            None => "",
        };
        println!("  {:<8} {:<30} {when}{dev}", r.user, r.kind);
    }
    println!(
        "false alerts: {} people alerted at medium or above who are not insiders = {:.2} per 1,000 people per 30 days ({} people, {:.0} days)",
        s.false_alerted.len(),
        s.false_alert_rate,
        s.people,
        s.days
    );
    let kinds: Vec<String> = s
        .by_kind
        .iter()
        .map(|(k, (c, n))| format!("{k} {c}/{n}"))
        .collect();
    println!("recall by kind: {}", kinds.join(", "));
    println!(
        "recall at a budget of {} people per 1,000 per 30 days ({} people here): {:.0} %",
        s.budget,
        s.budget_people,
        s.recall_at_budget * 100.0
    );
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let (Some(truth_path), Some(alerts)) = (&args.truth, &args.alerts) else {
        bail!("--truth FILE and --alerts FILE are required (or --sweep)");
    };
    let truth = read_truth(truth_path)?;
    let dir = args
        .dataset
        .clone()
        .or_else(|| truth_path.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let (people, days) = match (args.people, args.days) {
        (Some(p), Some(d)) => (p, d),
        (p, d) => {
            let (pp, dd) = population(&dir).with_context(|| {
                "cannot count people and days; give --dataset DIR or --people N --days D"
            })?;
            (p.unwrap_or(pp), d.unwrap_or(dd))
        }
    };
    let s = score(&truth, alerts, people, days, args.budget)?;
    if args.json {
        crate::output::json(&s)?;
    } else {
        print_scorecard(&s);
    }
    Ok(if s.missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
