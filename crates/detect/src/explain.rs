//! One sentence an analyst can act on, from an alert's indicators.

use crate::{Indicator, Severity};

pub(crate) fn summary(
    user: &str,
    unit: &str,
    role: &str,
    sev: Severity,
    inds: &[Indicator],
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for i in inds.iter().take(3) {
        let s = match i.name.as_str() {
            "escalation_outside_scope" => i.detail.clone(),
            "outside_usual_scope" => format!(
                "touched material outside their unit's scope (latest: {})",
                i.detail
            ),
            "need_to_know_violation" => i.detail.clone(),
            "access_refused" => format!(
                "was refused access (latest: {})",
                i.detail.trim_start_matches("refused: ")
            ),
            "volume_above_baseline" => i.detail.clone(),
            "exfiltration_channel" => i.detail.clone(),
            "repeated_exfiltration" => i.detail.clone(),
            "gather_then_take_out" => i.detail.clone(),
            "rise_in_own_rate" => i.detail.clone(),
            "unfamiliar_recipients" => i.detail.clone(),
            "other_persons_host" => format!("logged on to {}", i.detail),
            "job_search" => i.detail.clone(),
            "hacking_tools" => i.detail.clone(),
            "after_hours" => format!("much of it {}", i.detail),
            "leaving_window" => i.detail.clone(),
            "approached_by_outsider" => i.detail.clone(),
            _ => i.name.clone(),
        };
        if !s.is_empty() {
            parts.push(s);
        }
    }
    let advice = match sev {
        Severity::High => "review now with the security office and the person's manager; preserve the evidence before any contact",
        Severity::Medium => "review the listed events and the person's recent access with their manager",
        Severity::Low => "keep watching; no action needed yet",
    };
    format!("{user} ({unit}, {role}): {}; {advice}.", parts.join("; "))
}
