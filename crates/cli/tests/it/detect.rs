//! `custodian detect`, `evaluate` and `demo` through the real binary.

use std::io::Write;
use std::process::Command;

use crate::support::{bin, cleanup, custodian, json, ok, simulate, stores};

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
    std::fs::create_dir(&shuffled).unwrap();
    for f in [
        "directory.csv",
        "documents.csv",
        "hr.jsonl",
        "contacts.jsonl",
    ] {
        std::fs::copy(dir.join(f), shuffled.join(f)).unwrap();
    }
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

    // The scorecard: every planted insider, and the false-alert rate.
    let card = json(
        Command::new(bin())
            .args(["evaluate", "--json", "--truth"])
            .arg(dir.join("truth.jsonl"))
            .arg("--alerts")
            .arg(&a)
            .output()
            .unwrap(),
    );
    assert_eq!(card["people"], 300);
    assert!(card["insiders"].as_array().unwrap().len() >= 5);
    assert_eq!(card["missed"], 0, "{card}");
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
        let report = json(
            custodian(tmp.path(), &store)
                .args(["ledger", "verify", "--json"])
                .output()
                .unwrap(),
        );
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
    let ldap = "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n\
        Alice Quiet,AAA0001,Alice.Quiet@dtaa.com,Engineer,1,Research,Engineering,T1,Boss\n\
        Bob Leaving,BBB0002,Bob.Leaving@dtaa.com,Engineer,1,Research,Engineering,T1,Boss\n";
    std::fs::write(d.join("LDAP/2010-01.csv"), ldap).unwrap();
    std::fs::write(d.join("LDAP/2010-02.csv"), ldap).unwrap();
    std::fs::write(
        d.join("LDAP/2010-03.csv"),
        ldap.lines().take(2).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let mut logon = String::from("id,date,user,pc,activity\n");
    let mut http = String::from("id,date,user,pc,url,content\n");
    let mut n = 0;
    for day in 4..=28 {
        for user in ["AAA0001", "BBB0002"] {
            n += 1;
            logon += &format!(
                "{{L{n}}},02/{day:02}/2010 08:{:02}:00,DTAA/{user},PC-1,Logon\n",
                n % 60
            );
            http += &format!("{{H{n}}},02/{day:02}/2010 10:00:00,DTAA/{user},PC-1,http://news.example.com/a b,words\n");
            logon += &format!(
                "{{O{n}}},02/{day:02}/2010 17:{:02}:00,DTAA/{user},PC-1,Logoff\n",
                n % 60
            );
        }
    }
    // The leaver's last evening: a thumb drive for the first time, files
    // copied, a leak site.
    let device = "id,date,user,pc,activity\n{D1},03/01/2010 22:10:00,DTAA/BBB0002,PC-1,Connect\n";
    let mut file = String::from("id,date,user,pc,filename,content\n");
    for k in 0..30 {
        file += &format!("{{F{k}}},03/01/2010 22:{:02}:00,DTAA/BBB0002,PC-1,R:\\\\x{k}.doc,D0-CF-11-E0 secret plans\n", 11 + k);
    }
    http += "{H999},03/01/2010 23:00:00,DTAA/BBB0002,PC-1,http://wikileaks.org/upload,leak\n";
    let email = "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n\
        {E1},02/10/2010 11:00:00,DTAA/AAA0001,PC-1,Bob.Leaving@dtaa.com;friend@gmail.com,,,Alice.Quiet@dtaa.com,25000,1,hello\n\
        {E2},not a date,DTAA/AAA0001,PC-1,x@dtaa.com,,,Alice.Quiet@dtaa.com,10,0,bad row\n";
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
        .args(["--output", "cert.jsonl"])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&ok_bytes(out)).unwrap();
    assert_eq!(summary["rejected"], 1, "{summary}");
    assert_eq!(
        summary["events_used"].as_u64().unwrap(),
        150 + 1 + 30 + 1 + 1,
        "{summary}"
    );
    let alerts = lines(&tmp.path().join("cert.jsonl"));
    assert!(alerts.iter().any(|a| a.contains("BBB0002")), "{alerts:?}");
    assert!(!alerts.iter().any(|a| a.contains("AAA0001")), "{alerts:?}");
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
