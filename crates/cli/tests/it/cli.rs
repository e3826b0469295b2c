use crate::support::*;

fn seeded(tmp: &std::path::Path) -> String {
    let data = tmp.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("directory.csv"),
        "user_id,name,email,org_unit,site,role,manager_id,clearance,projects,hire_date,leave_date\n\
         E1,Sato Taro,e1@x.jp,R&D Optics,Tokyo,engineer,,secret,LX-100,2019-04-01,\n\
         E2,Ito Hana,e2@x.jp,Sales,Osaka,sales,E1,internal,,2020-04-01,2025-06-30\n\
         E3,Abe Ken,e3@x.jp,R&D Optics,Tokyo,engineer,E1,confidential,LX-200,2018-04-01,\n",
    )
    .unwrap();
    std::fs::write(
        data.join("documents.csv"),
        "doc_id,title,classification,owner_id,projects,kind,created\n\
         D1,LX brochure,public,E1,*,brochure,2024-01-01\n\
         D2,LX-100 design,secret,E1,LX-100,design,2024-01-01\n\
         D3,LX-100 test report,confidential,E1,LX-100,test-report,2024-01-01\n",
    )
    .unwrap();
    std::fs::write(
        data.join("events.jsonl"),
        "{\"id\":\"a\",\"ts\":\"2025-04-01T09:00:00+09:00\",\"user\":\"E3\",\"action\":\"doc.view\",\"doc\":\"D3\"}\n",
    )
    .unwrap();
    // E3 moved from LX-100 to LX-200 on 2025-03-01.
    std::fs::write(
        data.join("hr.jsonl"),
        "{\"ts\":\"2025-03-01T09:00:00+09:00\",\"user\":\"E3\",\"type\":\"transfer\",\"from_projects\":[\"LX-100\"],\"to_projects\":[\"LX-200\"]}\n",
    )
    .unwrap();
    let store = format!("sqlite://{}", tmp.join("c.db").display());
    ok(custodian(tmp, &store)
        .arg("import")
        .arg(&data)
        .output()
        .unwrap());
    store
}

#[test]
fn check_follows_clearance_need_to_know_transfers_and_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let store = seeded(tmp.path());
    let check = |p: &str, d: &str, at: &str| {
        let v = json(
            custodian(tmp.path(), &store)
                .args(["check", p, d, "--at", at, "--json"])
                .output()
                .unwrap(),
        );
        (
            v["result"]["decision"].as_str().unwrap().to_string(),
            v["explanation"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(check("E2", "D1", "2025-04-01").0, "allow");
    let (d, why) = check("E2", "D3", "2025-04-01");
    assert_eq!(d, "deny");
    assert!(why.contains("clearance internal is below"), "{why}");
    // Before the transfer E3 needed to know LX-100; after, not.
    assert_eq!(check("E3", "D3", "2025-02-01").0, "allow");
    let (d, why) = check("E3", "D3", "2025-04-01");
    assert_eq!(d, "deny");
    assert!(why.contains("no need to know"), "{why}");
    assert_eq!(check("E1", "D2", "2025-04-01").0, "allow", "the owner");
    // E2 left on 2025-06-30.
    assert!(check("E2", "D1", "2025-07-02")
        .1
        .contains("past their leave date"));
    let out = custodian(tmp.path(), &store)
        .args(["check", "E9", "D1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no person 'E9'"));
}

#[test]
fn register_edits_leave_a_history() {
    let tmp = tempfile::tempdir().unwrap();
    let store = seeded(tmp.path());
    ok(custodian(tmp.path(), &store)
        .args([
            "register",
            "add",
            "--id",
            "K1",
            "--title",
            "LX-300 plan",
            "--level",
            "secret",
        ])
        .args([
            "--owner",
            "E1",
            "--projects",
            "LX-100",
            "--kind",
            "plan",
            "--knowledge",
            "--as",
            "E1",
        ])
        .output()
        .unwrap());
    let out = custodian(tmp.path(), &store)
        .args([
            "register", "add", "--id", "K1", "--title", "again", "--level", "public", "--owner",
            "E1", "--as", "E1",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a second add of the same id is refused"
    );
    let out = custodian(tmp.path(), &store)
        .args([
            "register", "add", "--id", "K2", "--title", "x", "--level", "top", "--owner", "E1",
            "--as", "E1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown level 'top'"));
    ok(custodian(tmp.path(), &store)
        .args(["register", "set-level", "D3", "secret", "--as", "E1"])
        .output()
        .unwrap());
    let v = run_json(tmp.path(), &store, &["register", "show", "D3", "--json"]);
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["field"], "designated");
    assert_eq!(h[1]["field"], "level");
    assert_eq!(h[1]["old"], "confidential");
    assert_eq!(h[1]["new"], "secret");
    assert_eq!(h[1]["actor"], "E1");
    assert_eq!(v["may_open_now"], serde_json::json!(["E1"]));
    let v = run_json(tmp.path(), &store, &["register", "show", "K1", "--json"]);
    assert_eq!(v["document"]["medium"], "knowledge");
    let list = ok(custodian(tmp.path(), &store)
        .args(["register", "list", "--level", "secret"])
        .output()
        .unwrap());
    assert!(
        list.contains("K1") && list.contains("D3") && !list.contains("D1 "),
        "{list}"
    );
}

#[test]
fn people_and_status() {
    let tmp = tempfile::tempdir().unwrap();
    let store = seeded(tmp.path());
    let v = run_json(tmp.path(), &store, &["people", "list", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 3);
    let v = run_json(tmp.path(), &store, &["people", "show", "E3", "--json"]);
    assert_eq!(v["hr_events"].as_array().unwrap().len(), 1);
    assert_eq!(v["recent_events"][0]["id"], "a");
    let st = run_json(tmp.path(), &store, &["status", "--json"]);
    assert_eq!(st["store"]["backend"], "sqlite");
    assert_eq!(st["store"]["configured_by"], "flag");
    assert_eq!(st["counts"]["people"], 3);
    assert_eq!(st["counts"]["events"], 1);
}

#[test]
fn config_file_then_environment_then_flag() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("custodian.toml"),
        "store = \"sqlite://from-toml.db\"\n",
    )
    .unwrap();
    let status = |envs: &[(&str, &str)], flag: Option<&str>| {
        let mut c = std::process::Command::new(bin());
        c.current_dir(tmp.path())
            .env_remove("CUSTODIAN_STORE")
            .env_remove("CUSTODIAN_STORE_FILE");
        for (k, v) in envs {
            c.env(k, v);
        }
        if let Some(f) = flag {
            c.args(["--store", f]);
        }
        json(c.args(["status", "--json"]).output().unwrap())
    };
    let v = status(&[], None);
    assert!(v["store"]["location"]
        .as_str()
        .unwrap()
        .ends_with("from-toml.db"));
    assert_eq!(v["store"]["configured_by"], "config_file");
    let v = status(&[("CUSTODIAN_STORE", "sqlite://from-env.db")], None);
    assert!(v["store"]["location"]
        .as_str()
        .unwrap()
        .ends_with("from-env.db"));
    let secret = tmp.path().join("url.secret");
    std::fs::write(&secret, "sqlite://from-secret-file.db\n").unwrap();
    let v = status(&[("CUSTODIAN_STORE_FILE", secret.to_str().unwrap())], None);
    assert!(v["store"]["location"]
        .as_str()
        .unwrap()
        .ends_with("from-secret-file.db"));
    let v = status(
        &[("CUSTODIAN_STORE", "sqlite://from-env.db")],
        Some("sqlite://from-flag.db"),
    );
    assert!(v["store"]["location"]
        .as_str()
        .unwrap()
        .ends_with("from-flag.db"));
    assert_eq!(v["store"]["configured_by"], "flag");
}

#[test]
fn contents_are_sealed_at_rest_attached_in_the_ledger_and_rotated() {
    let tmp = tempfile::tempdir().unwrap();
    let company = crate::support::Sample::imported(tmp.path(), "c.db");
    let run = |args: &[&str]| company.run(args);
    let secret = "The lens group is centred by the jig at 23.5 degrees. 極秘";
    std::fs::write(tmp.path().join("notes.md"), secret).unwrap();
    let out = crate::support::ok(run(&[
        "register",
        "attach",
        "D-SX-DESIGN-23",
        "notes.md",
        "--as",
        "E1",
    ]));
    assert!(out.contains("content in custody"), "{out}");
    let key = std::fs::read_to_string(tmp.path().join("custodian-content.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("custodian-content.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable only by its owner");
    }
    // No plaintext anywhere in the database files.
    for f in std::fs::read_dir(tmp.path()).unwrap() {
        let p = f.unwrap().path();
        if p.to_string_lossy().contains("c.db") {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(15).any(|w| w == b"lens group is c"),
                "plaintext in {}",
                p.display()
            );
        }
    }
    let info = crate::support::json(run(&["register", "content", "D-SX-DESIGN-23", "--json"]));
    assert_eq!(info["media_type"], "text/markdown");
    assert_eq!(info["size"], secret.len());
    let old_id = info["key_id"].as_str().unwrap().to_string();
    // Rotation: every content re-sealed under the new key, ledgered.
    let out = crate::support::ok(run(&[
        "register",
        "rotate-key",
        "--new-key",
        "new.key",
        "--as",
        "E1",
    ]));
    assert!(out.contains("re-sealed 1 contents"), "{out}");
    let info = crate::support::json(run(&["register", "content", "D-SX-DESIGN-23", "--json"]));
    assert_ne!(info["key_id"].as_str().unwrap(), old_id);
    assert_ne!(
        std::fs::read_to_string(tmp.path().join("new.key")).unwrap(),
        key
    );
    let history = crate::support::ok(run(&["register", "show", "D-SX-DESIGN-23"]));
    assert!(history.contains("content-key"), "{history}");
    crate::support::ok(run(&["ledger", "verify"]));
}

#[test]
fn broker_decides_records_and_traces_text_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let company = crate::support::Sample::imported(tmp.path(), "b.db");
    let run = |args: &[&str]| company.run(args);
    let sentences = [
        "Initialize the controller before you customize the feed rate.",
        "The spindle is centered toward the operator.",
        "Check the color of the indicator while the axis moves.",
        "Operators can reuse the preset tool table among shifts.",
        "Optimize the path to minimize vibration and maximize quality.",
        "設定はすべて自動で行います。",
    ];
    let manual: String = (0..60)
        .map(|i| {
            format!(
                "## Section {i}\n\n{} (step {i})\n\n",
                sentences[i % 6..]
                    .iter()
                    .chain(&sentences[..i % 6])
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect();
    std::fs::write(tmp.path().join("manual.md"), &manual).unwrap();
    let doc = "D-SX-DESIGN-23"; // secret, owned by E10027, project SX-200
    crate::support::ok(run(&[
        "register",
        "attach",
        doc,
        "manual.md",
        "--as",
        "E10027",
    ]));
    // Refused without the owner's approval, then without an acknowledgement.
    let o = run(&["copy", "issue", doc, "--to", "E10003", "--out", "c1.md"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("approval"));
    assert!(
        !run(&["copy", "approve", doc, "--for", "E10003", "--by", "E10003"])
            .status
            .success(),
        "only the owner approves"
    );
    crate::support::ok(run(&[
        "copy", "approve", doc, "--for", "E10003", "--by", "E10027",
    ]));
    let o = run(&["copy", "issue", doc, "--to", "E10003", "--out", "c1.md"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("acknowledged"));
    crate::support::ok(run(&[
        "people",
        "acknowledge",
        "E10003",
        "--policy",
        "2026-04",
    ]));
    crate::support::ok(run(&[
        "copy",
        "issue",
        doc,
        "--to",
        "E10003",
        "--purpose",
        "audit",
        "--out",
        "c1.md",
    ]));
    crate::support::ok(run(&[
        "copy", "approve", doc, "--for", "E10027", "--by", "E10027",
    ]));
    crate::support::ok(run(&[
        "people",
        "acknowledge",
        "E10027",
        "--policy",
        "2026-04",
    ]));
    crate::support::ok(run(&[
        "copy", "issue", doc, "--to", "E10027", "--out", "c2.md",
    ]));
    let c1 = std::fs::read_to_string(tmp.path().join("c1.md")).unwrap();
    assert!(
        c1.starts_with("[極秘 SECRET]") && c1.contains("E10003"),
        "visible mark"
    );
    // The whole copy: exact; its text reflowed and stripped of the mark, and
    // an excerpt: the wording names E10003; the original names nobody.
    let t = crate::support::json(run(&["trace", "c1.md", "--json"]));
    assert_eq!(t["hint"]["recipient"], "E10003");
    assert_eq!(t["hint"]["fingerprint"], "agrees", "{t}");
    assert_eq!(t["transplant"], false);
    assert_eq!(t["accused"][0]["recipient"], "E10003");
    // E10003 puts E10027's token into their own copy to frame them: the
    // token is only a hint; the fingerprint names E10003 and says so.
    let c2 = std::fs::read_to_string(tmp.path().join("c2.md")).unwrap();
    let token_of = |text: &str| {
        let at = text.find("Custodian copy token: ").unwrap() + 22;
        text[at..].split_whitespace().next().unwrap().to_string()
    };
    let framed = c1.replace(&token_of(&c1), &token_of(&c2));
    assert_ne!(framed, c1);
    std::fs::write(tmp.path().join("framed.md"), &framed).unwrap();
    let t = crate::support::json(run(&["trace", "framed.md", "--json"]));
    assert_eq!(t["hint"]["recipient"], "E10027", "{t}");
    assert_eq!(t["hint"]["token_valid"], true, "{t}");
    assert_eq!(t["hint"]["fingerprint"], "contradicts", "{t}");
    assert_eq!(t["transplant"], true, "{t}");
    let named: Vec<&str> = t["accused"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["recipient"].as_str())
        .collect();
    assert_eq!(named, ["E10003"], "only the fingerprint accuses: {t}");
    let text = crate::support::ok(run(&["trace", "framed.md"]));
    assert!(text.contains("TRANSPLANT"), "{text}");
    assert!(!text.contains("accused: E10027"), "{text}");
    let body: String = c1.lines().skip(4).collect::<Vec<_>>().join(" ");
    std::fs::write(tmp.path().join("pasted.txt"), &body).unwrap();
    std::fs::write(
        tmp.path().join("excerpt.txt"),
        body.chars()
            .skip(body.chars().count() / 4)
            .take(5000)
            .collect::<String>(),
    )
    .unwrap();
    for f in ["pasted.txt", "excerpt.txt"] {
        let t = crate::support::json(run(&["trace", f, "--json"]));
        assert!(t["hint"].is_null());
        let acc = t["accused"].as_array().unwrap();
        assert_eq!(acc.len(), 1, "{f}: {t}");
        assert_eq!(acc[0]["recipient"], "E10003", "{f}");
        assert!(acc[0]["case_bound"].as_f64().unwrap() < 1e-6);
    }
    let t = crate::support::json(run(&["trace", "manual.md", "--json"]));
    assert!(t["accused"].as_array().unwrap().is_empty(), "{t}");
    // A copy Custodian typesets as PDF: the PDF names its recipient (token
    // and wording read from its text), and so does its text pasted out
    // with pdftotext.
    crate::support::ok(run(&[
        "copy", "issue", doc, "--to", "E10027", "--out", "c3.pdf",
    ]));
    let pdf = std::fs::read(tmp.path().join("c3.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let t = crate::support::json(run(&["trace", "c3.pdf", "--json"]));
    assert_eq!(t["hint"]["recipient"], "E10027", "{t}");
    let acc = t["accused"].as_array().unwrap();
    assert_eq!(acc.len(), 1, "{t}");
    assert_eq!(acc[0]["recipient"], "E10027");
    assert_eq!(acc[0]["carrier"], "wording sites");
    match std::process::Command::new("pdftotext")
        .current_dir(tmp.path())
        .args(["c3.pdf", "c3.txt"])
        .status()
    {
        Ok(s) if s.success() => {
            let t = crate::support::json(run(&["trace", "c3.txt", "--json"]));
            assert!(t["hint"].is_null());
            let acc = t["accused"].as_array().unwrap();
            assert_eq!(acc.len(), 1, "{t}");
            assert_eq!(acc[0]["recipient"], "E10027");
        }
        _ => eprintln!("SKIPPED (part): pdftotext is not installed"),
    }
    // A 300-dpi scan of its first page: the QR code names the copy.
    match std::process::Command::new("pdftoppm")
        .current_dir(tmp.path())
        .args([
            "-r",
            "300",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-png",
            "c3.pdf",
            "scan",
        ])
        .status()
    {
        Ok(s) if s.success() => {
            let t = crate::support::json(run(&["trace", "scan.png", "--json"]));
            assert_eq!(t["hint"]["recipient"], "E10027", "{t}");
            assert_eq!(t["hint"]["token_valid"], true, "{t}");
        }
        _ => eprintln!("SKIPPED (part): pdftoppm is not installed"),
    }
    // Every decision is in the ledger.
    let v = crate::support::json(run(&["ledger", "verify", "--json"]));
    assert_eq!(v["report"]["records_by_kind"]["custody"], 9, "{v}");
}

/// A real manual attached as a PDF: copies issued through the broker name
/// their recipient when leaked unmodified (token, exact), after Ghostscript
/// re-saved them, and from a 3-page excerpt; the original names nobody.
#[test]
fn broker_issues_and_traces_pdf_copies() {
    let Some(pdfs) = std::env::var_os("CUSTODIAN_TEST_PDFS") else {
        eprintln!("SKIPPED: CUSTODIAN_TEST_PDFS is unset (scripts/fetch-test-pdfs)");
        return;
    };
    let manual = std::path::Path::new(&pdfs).join("asymptote-20.pdf");
    let tmp = tempfile::tempdir().unwrap();
    let company = crate::support::Sample::imported(tmp.path(), "p.db");
    let run = |args: &[&str]| company.run(args);
    // The company's own label for secret, from custodian.toml.
    std::fs::write(
        tmp.path().join("custodian.toml"),
        "[marking]\nsecret = \"極秘 EXAMPLE-KK SECRET\"\n",
    )
    .unwrap();
    let doc = "D-SX-DESIGN-23";
    crate::support::ok(run(&[
        "register",
        "attach",
        doc,
        manual.to_str().unwrap(),
        "--as",
        "E10027",
    ]));
    for who in ["E10003", "E10027"] {
        crate::support::ok(run(&[
            "copy", "approve", doc, "--for", who, "--by", "E10027",
        ]));
        crate::support::ok(run(&["people", "acknowledge", who, "--policy", "2026-04"]));
        let out = format!("{who}.pdf");
        crate::support::ok(run(&["copy", "issue", doc, "--to", who, "--out", &out]));
    }
    let t = crate::support::json(run(&["trace", "E10003.pdf", "--json"]));
    assert_eq!(t["hint"]["recipient"], "E10003", "{t}");
    assert_eq!(t["hint"]["token_valid"], true);
    assert_eq!(t["accused"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["accused"][0]["recipient"], "E10003");
    // E10003 transplants E10027's token into their own copy (same length,
    // in place): the token is a hint the fingerprint contradicts.
    let mine = std::fs::read(tmp.path().join("E10003.pdf")).unwrap();
    let theirs = std::fs::read(tmp.path().join("E10027.pdf")).unwrap();
    // The copy id starts the token (`copy_id.tag`, the tag 16 hex digits).
    let copy_id_of = |file: &str| {
        let t = crate::support::json(run(&["trace", file, "--json"]));
        format!("{}.", t["hint"]["copy_id"].as_str().unwrap())
    };
    let (a, b) = (copy_id_of("E10003.pdf"), copy_id_of("E10027.pdf"));
    let find = |hay: &[u8], n: &[u8]| hay.windows(n.len()).position(|w| w == n);
    if let (Some(at), Some(bt)) = (find(&mine, a.as_bytes()), find(&theirs, b.as_bytes())) {
        let len = a.len() + 16;
        let mut framed = mine.clone();
        framed[at..at + len].copy_from_slice(&theirs[bt..bt + len]);
        std::fs::write(tmp.path().join("framed.pdf"), &framed).unwrap();
        let t = crate::support::json(run(&["trace", "framed.pdf", "--json"]));
        assert_eq!(t["hint"]["recipient"], "E10027", "{t}");
        assert_eq!(t["hint"]["token_valid"], true, "{t}");
        assert_eq!(t["transplant"], true, "{t}");
        let named: Vec<&str> = t["accused"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["recipient"].as_str())
            .collect();
        assert_eq!(named, ["E10003"], "{t}");
    } else {
        panic!("the token is not stored as plain bytes in the copy");
    }
    if let Ok(o) = std::process::Command::new("pdftotext")
        .current_dir(tmp.path())
        .args(["-l", "1", "E10003.pdf", "-"])
        .output()
    {
        let first = String::from_utf8_lossy(&o.stdout);
        assert!(
            first.contains("極秘 EXAMPLE-KK SECRET") && first.contains("E10003"),
            "{first}"
        );
    }
    let have = |t: &str| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok()
    };
    if have("gs") && have("qpdf") {
        let dir = tmp.path();
        let s = std::process::Command::new("gs")
            .current_dir(dir)
            .args([
                "-q",
                "-dNOPAUSE",
                "-dBATCH",
                "-dSAFER",
                "-sDEVICE=pdfwrite",
                "-sOutputFile=gs.pdf",
                "E10027.pdf",
            ])
            .status()
            .unwrap();
        assert!(s.success());
        let s = std::process::Command::new("qpdf")
            .current_dir(dir)
            .args(["E10027.pdf", "--pages", ".", "4,9,17", "--", "three.pdf"])
            .status()
            .unwrap();
        assert!(s.success());
        for f in ["gs.pdf", "three.pdf"] {
            let t = crate::support::json(run(&["trace", f, "--json"]));
            let acc = t["accused"].as_array().unwrap();
            assert_eq!(acc.len(), 1, "{f}: {t}");
            assert_eq!(acc[0]["recipient"], "E10027", "{f}");
            assert!(acc[0]["case_bound"].as_f64().unwrap() < 1e-6);
        }
    } else {
        eprintln!("SKIPPED (part): gs or qpdf missing, re-saving not checked here");
    }
    // The print path of CUPS filters (pdftops, then Ghostscript): the
    // marked copy converts, and the result still names its recipient.
    let japanese = custodian_pdfmark::markfont::glyphs(&["秘"]).is_some();
    if !japanese {
        eprintln!("SKIPPED (part): no Japanese font to draw the mark from (fonts-noto-cjk), the print path not checked");
    } else if have("pdftops") && have("ps2pdf") {
        let dir = tmp.path();
        let ok = |c: &mut std::process::Command| c.current_dir(dir).status().unwrap().success();
        assert!(ok(
            std::process::Command::new("pdftops").args(["E10027.pdf", "printed.ps"])
        ));
        assert!(
            ok(std::process::Command::new("ps2pdf").args(["printed.ps", "printed.pdf"])),
            "the marked copy does not survive pdftops | ps2pdf"
        );
        let t = crate::support::json(run(&["trace", "printed.pdf", "--json"]));
        let acc = t["accused"].as_array().unwrap();
        assert_eq!(acc.len(), 1, "{t}");
        assert_eq!(acc[0]["recipient"], "E10027");
    } else {
        eprintln!("SKIPPED (part): pdftops or ps2pdf missing, the print path not checked here");
    }
    let t = crate::support::json(run(&["trace", manual.to_str().unwrap(), "--json"]));
    assert!(t["accused"].as_array().unwrap().is_empty(), "{t}");
    assert!(t["hint"].is_null(), "{t}");
    crate::support::ok(run(&["ledger", "verify"]));
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = seeded(tmp.path());
    for args in [&["people", "list"][..], &["status"][..]] {
        let mut child = custodian(tmp.path(), &store)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            out.status.success() || out.status.code() == Some(141),
            "{args:?}: {}: {err}",
            out.status
        );
    }
}
