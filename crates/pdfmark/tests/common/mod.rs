//! What the typeset and scan tests share.
#![allow(dead_code)]

use custodian_fingerprint::CodeParams;
use rand::{Rng, SeedableRng};

/// Recipients of the document in these experiments.
pub const N: u64 = 1000;
/// A code for 4 colluders among them, ε = 10⁻⁶.
pub const PARAMS: CodeParams = CodeParams {
    recipients: N,
    colluders: 4,
    epsilon: 1e-6,
};
use rand_chacha::ChaCha8Rng;

/// A manual of about 20 pages in the style of a machine-tool operator's
/// manual, English and Japanese, with the words technical writers spell
/// either way.
pub fn manual() -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let en = [
        "Initialize the controller before you customize the feed rate for each tool.",
        "The spindle is centered toward the operator while the axis moves to its reference.",
        "Check the color of the indicator; a gray lamp means the interlock is open.",
        "Operators can reuse the preset tool table among shifts once it is authorized.",
        "Optimize the path to minimize vibration and maximize surface quality.",
        "Send the labeled log by email to the service center if the alarm is canceled.",
        "Analyze the behavior of the coolant pump while the machine is online.",
        "Recognize the aluminum chips in the catalog and organize the bins by color.",
        "Realign the nonzero offsets so that the modeling results fulfill the tolerance.",
        "The organization keeps the optimized parameters in the catalog for each center.",
    ];
    let ja = [
        "作業の前に、あらかじめ工具の取り付けを確認してください。",
        "異常が発生した場合は、すべての軸を停止し、サービスにお問い合わせください。",
        "設定値の読み込みおよび書き込みは、管理者のみ行います。",
        "ただし、組み立て直後は主軸を低速で回転させることができます。",
        "取り扱い説明書に従って、取り外しまたは交換を行います。",
        "したがって、ほとんどの場合は受け付け画面から操作できます。",
    ];
    let mut md = String::from("# Operator's manual: SX-200 five-axis machining center\n\n");
    for ch in 1..=12 {
        md.push_str(&format!("## {ch}. Chapter {ch}\n\n"));
        for sec in 1..=4 {
            md.push_str(&format!(
                "### {ch}.{sec} Procedure {}\n\n",
                rng.gen_range(100..999)
            ));
            for _ in 0..3 {
                let n = rng.gen_range(3..6);
                let p: Vec<&str> = (0..n).map(|_| en[rng.gen_range(0..en.len())]).collect();
                md.push_str(&format!(
                    "{} Torque {} Nm, speed {} rpm.\n\n",
                    p.join(" "),
                    rng.gen_range(10..99),
                    rng.gen_range(1000..9000)
                ));
            }
            let p: Vec<&str> = (0..3).map(|_| ja[rng.gen_range(0..ja.len())]).collect();
            md.push_str(&format!(
                "{}温度は{}度、圧力は{}MPaです。\n\n",
                p.join(""),
                rng.gen_range(10..60),
                rng.gen_range(1..9)
            ));
            md.push_str(&format!(
                "- {}\n- {}\n\n",
                en[rng.gen_range(0..en.len())],
                ja[rng.gen_range(0..ja.len())]
            ));
        }
    }
    md
}

/// The mark of recipient `r`'s copy (token `CP-<r in hex>.tag`).
pub fn mark(r: u64) -> custodian_pdfmark::Mark {
    custodian_pdfmark::Mark {
        banner: "秘 CONFIDENTIAL".into(),
        lines: vec![format!("E{r:05}"), format!("CP-{r:x}")],
        notice: "Trade secret; disclosure prohibited.".into(),
        qr: format!("custodian:CP-{r:x}:tag"),
        token: format!("CP-{r:x}.tag"),
    }
}
