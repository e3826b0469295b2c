//! `custodian detect`, `evaluate` and `demo` through the real binary.

use std::io::Write;
use std::process::Command;

use crate::support::{bin, cleanup, custodian, json, ok, run_json, simulate, stores};

/// A folder beside `dir` with its context files copied (events to write).
fn sibling(dir: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir(to).unwrap();
    for f in [
        "directory.csv",
        "documents.csv",
        "hr.jsonl",
        "contacts.jsonl",
    ] {
        std::fs::copy(dir.join(f), to.join(f)).unwrap();
    }
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn detect_over_a_folder_in_any_order_and_compression_gives_the_same_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = simulate(tmp.path(), "co", 300, 90, 17, &[]);
    let a = tmp.path().join("a.jsonl");
    let summary = json(
        Command::new(bin())
            .current_dir(tmp.path())
            .args(["detect", "--json", "--input"])
            .arg(&dir)
            .arg("--output")
            .arg(&a)
            .output()
            .unwrap(),
    );
    assert!(summary["alerts"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["events_read"], summary["events_used"]);
    // The same events shuffled, one delivered twice, a bad line and an
    // unknown user in the middle, gzipped: the same alerts, and the bad
    // lines named.
    let shuffled = tmp.path().join("shuffled");
    sibling(&dir, &shuffled);
    let mut ev = lines(&dir.join("events.jsonl"));
    let n = ev.len();
    ev.reverse();
    ev.swap(0, n / 2);
    let again = ev[10].clone();
    ev.push(again);
    ev.insert(5, "{\"id\": \"broken\", \"ts\": ".into());
    ev.insert(
        7,
        r#"{"id":"x1","ts":"2025-04-02T10:00:00+09:00","user":"NOBODY","action":"logon"}"#.into(),
    );
    let gz = std::fs::File::create(shuffled.join("events.jsonl.gz")).unwrap();
    let mut w = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    for l in &ev {
        writeln!(w, "{l}").unwrap();
    }
    w.finish().unwrap();
    let b = tmp.path().join("b.jsonl");
    let rejects = tmp.path().join("rejects.jsonl");
    let summary = json(
        Command::new(bin())
            .current_dir(tmp.path())
            .args(["detect", "--json", "--input"])
            .arg(&shuffled)
            .arg("--output")
            .arg(&b)
            .arg("--rejects")
            .arg(&rejects)
            .output()
            .unwrap(),
    );
    assert_eq!(summary["rejected"], 2, "{summary}");
    assert_eq!(summary["events_used"].as_u64().unwrap() as usize, n);
    assert_eq!(lines(&a), lines(&b));
    let rej = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        rej.contains("\"line\":6") && rej.contains("NOBODY"),
        "{rej}"
    );

    // Plain files whose sources were concatenated (each in order, the
    // whole not) are merged by time without being held: the same alerts.
    // In the second, every document event carries a nested "ts" before its
    // own, so the first pass misreads those blocks' times and the merge
    // must notice and sort in memory instead, still reporting each bad
    // line once.
    let by_source = lines(&dir.join("events.jsonl"));
    let source_of = |l: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let a = v["action"].as_str().unwrap_or("").to_string();
        a.split('.').next().unwrap_or("").to_string()
    };
    let mut grouped: Vec<(String, String)> = by_source
        .iter()
        .map(|l| (source_of(l), l.clone()))
        .collect();
    grouped.sort_by(|x, y| x.0.cmp(&y.0));
    for (name, misread) in [("by-source", false), ("misread", true)] {
        let d = tmp.path().join(name);
        sibling(&dir, &d);
        let mut w = std::io::BufWriter::new(std::fs::File::create(d.join("events.jsonl")).unwrap());
        for (i, (src, l)) in grouped.iter().enumerate() {
            if i == 1000 {
                writeln!(w, "{{\"id\": \"broken\", \"ts\": ").unwrap();
            }
            if misread && src == "doc" {
                let rest = l.strip_prefix('{').unwrap();
                writeln!(w, "{{\"x_note\":{{\"ts\":\"2099-01-01T00:00:00Z\"}},{rest}").unwrap();
            } else {
                writeln!(w, "{l}").unwrap();
            }
        }
        w.into_inner().unwrap().sync_all().unwrap();
        let c = tmp.path().join(format!("{name}.jsonl"));
        let rejects = tmp.path().join(format!("{name}-rejects.jsonl"));
        let out = Command::new(bin())
            .current_dir(tmp.path())
            .env("RUST_LOG", "custodian=info")
            .args(["detect", "--json", "--input"])
            .arg(&d)
            .arg("--output")
            .arg(&c)
            .arg("--rejects")
            .arg(&rejects)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        let summary = json(out);
        assert_eq!(summary["rejected"], 1, "{name}: {summary}");
        assert_eq!(summary["events_read"].as_u64().unwrap() as usize, n + 1);
        assert_eq!(summary["events_used"].as_u64().unwrap() as usize, n);
        assert_eq!(lines(&a), lines(&c), "{name}");
        assert_eq!(lines(&rejects).len(), 1, "{name}");
        assert!(log.contains("merged by time") != misread, "{name}: {log}");
        assert!(
            log.contains("sorting them in memory") == misread,
            "{name}: {log}"
        );
    }

    // The scorecard: every planted insider, and the false-alert rate. In a
    // company of 300 the budget's line may leave one slow insider ranked
    // but not alerted (evaluate then exits 3, and says which).
    let out = Command::new(bin())
        .args(["evaluate", "--json", "--truth"])
        .arg(dir.join("truth.jsonl"))
        .arg("--alerts")
        .arg(&a)
        .output()
        .unwrap();
    let card: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let missed = card["missed"].as_u64().unwrap();
    assert_eq!(
        out.status.code(),
        Some(if missed == 0 { 0 } else { 3 }),
        "{card}"
    );
    assert_eq!(card["people"], 300);
    assert!(card["insiders"].as_array().unwrap().len() >= 5);
    assert!(missed <= 1, "{card}");
    assert!(card["false_alert_rate"].as_f64().unwrap() <= 3.0, "{card}");
}

#[test]
fn detect_from_the_store_stores_and_ledgers_alerts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = simulate(tmp.path(), "co", 200, 60, 23, &[]);
    for store in stores(tmp.path(), "detect_store") {
        ok(custodian(tmp.path(), &store)
            .arg("import")
            .arg(&dir)
            .output()
            .unwrap());
        let first = ok(custodian(tmp.path(), &store)
            .args(["detect", "--from-store", "--output", "from-store.jsonl"])
            .output()
            .unwrap());
        let n = lines(&tmp.path().join("from-store.jsonl")).len();
        assert!(n > 0);
        assert!(first.contains(&format!("{n} new alerts stored")), "{first}");
        let again = ok(custodian(tmp.path(), &store)
            .args(["detect", "--from-store"])
            .output()
            .unwrap());
        assert!(again.contains("0 new alerts stored"), "{again}");
        // The same alerts as detection over the folder.
        ok(Command::new(bin())
            .current_dir(tmp.path())
            .args(["detect", "--input"])
            .arg(&dir)
            .args(["--output", "from-folder.jsonl"])
            .output()
            .unwrap());
        assert_eq!(
            lines(&tmp.path().join("from-store.jsonl")),
            lines(&tmp.path().join("from-folder.jsonl"))
        );
        let report = run_json(tmp.path(), &store, &["ledger", "verify", "--json"]);
        assert_eq!(
            report["report"]["records_by_kind"]["alert"]
                .as_u64()
                .unwrap() as usize,
            n,
            "{report}"
        );
        cleanup(&store);
    }
}

#[test]
fn cert_r42_layout_is_read_and_mapped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("r4.2");
    std::fs::create_dir_all(d.join("LDAP")).unwrap();
    // Twelve engineers (the engine judges against peers, so a company of
    // two would make nothing rare), eight weeks of ordinary days.
    let users: Vec<String> = (1..=12).map(|i| format!("AAA{i:04}")).collect();
    let leaver = "BBB0002";
    let mut ldap = String::from(
        "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n",
    );
    for u in &users {
        ldap += &format!("Quiet {u},{u},{u}@dtaa.com,Engineer,1,Research,Engineering,T1,Boss\n");
    }
    let mut with_leaver = ldap.clone();
    with_leaver += &format!(
        "Bob Leaving,{leaver},Bob.Leaving@dtaa.com,Engineer,1,Research,Engineering,T1,Boss\n"
    );
    std::fs::write(d.join("LDAP/2010-01.csv"), &with_leaver).unwrap();
    std::fs::write(d.join("LDAP/2010-02.csv"), &with_leaver).unwrap();
    // The leaver is missing from March: they left on its first day.
    std::fs::write(d.join("LDAP/2010-03.csv"), &ldap).unwrap();
    let mut logon = String::from("id,date,user,pc,activity\n");
    let mut http = String::from("id,date,user,pc,url,content\n");
    let mut n = 0;
    let everyone: Vec<&str> = users.iter().map(|s| s.as_str()).chain([leaver]).collect();
    let mut days = 0;
    for (month, last) in [(1, 31), (2, 28)] {
        for day in 4..=last {
            days += 1;
            for (k, user) in everyone.iter().enumerate() {
                n += 1;
                logon += &format!(
                    "{{L{n}}},{month:02}/{day:02}/2010 08:{:02}:00,DTAA/{user},PC-{k},Logon\n",
                    k % 60
                );
                http += &format!("{{H{n}}},{month:02}/{day:02}/2010 10:{:02}:00,DTAA/{user},PC-{k},http://news.example.com/a b,words\n", k % 60);
            }
            for (k, user) in everyone.iter().enumerate() {
                logon += &format!(
                    "{{O{n}-{k}}},{month:02}/{day:02}/2010 17:{:02}:00,DTAA/{user},PC-{k},Logoff\n",
                    k % 60
                );
            }
        }
    }
    let ordinary = days * everyone.len() * 3;
    // The leaver's last evening: a thumb drive for the first time, files
    // copied, a leak site.
    let device = "id,date,user,pc,activity\n{D1},02/28/2010 22:10:00,DTAA/BBB0002,PC-12,Connect\n";
    let mut file = String::from("id,date,user,pc,filename,content\n");
    for k in 0..30 {
        file += &format!("{{F{k}}},02/28/2010 22:{:02}:00,DTAA/BBB0002,PC-12,R:\\\\x{k}.doc,D0-CF-11-E0 secret plans\n", 11 + k);
    }
    http += "{H999},02/28/2010 23:00:00,DTAA/BBB0002,PC-12,http://wikileaks.org/upload,leak\n";
    let email = "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n\
        {E1},02/10/2010 11:00:00,DTAA/AAA0001,PC-0,Bob.Leaving@dtaa.com;friend@gmail.com,,,AAA0001@dtaa.com,25000,1,hello\n\
        {E2},not a date,DTAA/AAA0001,PC-0,x@dtaa.com,,,AAA0001@dtaa.com,10,0,bad row\n";
    std::fs::write(d.join("logon.csv"), logon).unwrap();
    std::fs::write(d.join("http.csv"), http).unwrap();
    std::fs::write(d.join("device.csv"), device).unwrap();
    std::fs::write(d.join("file.csv"), file).unwrap();
    std::fs::write(d.join("email.csv"), email).unwrap();
    // CERT user ids carry the domain: DTAA/AAA0001 in activity, AAA0001 in LDAP.
    let out = Command::new(bin())
        .current_dir(tmp.path())
        .args(["detect", "--format", "cert-r4.2", "--json", "--input"])
        .arg(&d)
        .args(["--output", "cert.jsonl", "--scores", "scores.jsonl"])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&ok_bytes(out)).unwrap();
    assert_eq!(summary["rejected"], 1, "{summary}");
    assert_eq!(
        summary["events_used"].as_u64().unwrap(),
        (ordinary + 1 + 30 + 1 + 1) as u64,
        "{summary}"
    );
    // Thirteen people are too few to make one evening rare enough for an
    // alert (a first thumb drive among 600 person-days is one in a
    // thousand); but the leaver's evening is the only thing judged unusual.
    let scores: Vec<serde_json::Value> = lines(&tmp.path().join("scores.jsonl"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scores.len(), 13);
    for s in &scores {
        let unusual = s["max_score"].as_f64().unwrap() > 0.0;
        assert_eq!(unusual, s["user"] == leaver, "{scores:?}");
    }
}

fn ok_bytes(out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn demo_runs_end_to_end_small() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(Command::new(bin())
        .current_dir(tmp.path())
        .args(["demo", "--people", "300", "--days", "90", "--dir", "d"])
        .output()
        .unwrap());
    assert!(out.contains("scorecard:"), "{out}");
    assert!(out.contains("top alerts"), "{out}");
    assert!(!out.contains("MISSED"), "{out}");
    ok(custodian(
        tmp.path(),
        &format!("sqlite://{}", tmp.path().join("d/custodian.db").display()),
    )
    .env(
        "CUSTODIAN_LEDGER_KEY_FILE",
        tmp.path().join("d/custodian-ledger.key"),
    )
    .args(["ledger", "verify"])
    .output()
    .unwrap());
}
