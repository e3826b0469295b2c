// The console in headless Chromium, against the real binary on the demo
// company (`custodian serve --demo`, SQLite):
//  1. an analyst logs in, sees the queue ranked by score, opens the top
//     alert's person (timeline and escalation chart), reveals the name (a
//     logged action), opens a case from the top alert, adds a note,
//     downloads the evidence bundle and `custodian bundle verify` checks it;
//  2. an employee (browser in Japanese) files a contact report describing
//     an approacher others reported, partially and differently, and the
//     analyst sees it grouped with the earlier reports;
//  3. an auditor verifies the ledger from the console.
// Screenshots go to $BROWSER_ARTIFACTS (default target/browser-artifacts).
//
// Needs: CUSTODIAN_BIN (default target/release/custodian, then
// target/debug/custodian), Chromium (CHROMIUM, default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin =
  process.env.CUSTODIAN_BIN ||
  [path.join(repo, "target/release/custodian"), path.join(repo, "target/debug/custodian")].find(
    (p) => fs.existsSync(p),
  );
const artifacts = process.env.BROWSER_ARTIFACTS || path.join(repo, "target/browser-artifacts");
const port = 20000 + (process.pid % 20000);
const base = `http://127.0.0.1:${port}`;

let server;
let browser;
let dir;
let accounts = {};
let serverLog = "";

async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(bin, "no custodian binary: build it first (cargo build --release -p custodian-cli)");
  fs.mkdirSync(artifacts, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "custodian-browser-"));
  server = spawn(
    bin,
    [
      "serve",
      "--demo",
      "--demo-dir",
      path.join(dir, "demo"),
      "--demo-people",
      "400",
      "--demo-days",
      "120",
      "--listen",
      `127.0.0.1:${port}`,
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  const started = Date.now();
  while (!serverLog.includes("serving on")) {
    if (server.exitCode !== null) throw new Error(`the server stopped:\n${serverLog}`);
    if (Date.now() - started > 300_000) throw new Error(`the server did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const line of fs.readFileSync(path.join(dir, "demo/demo-accounts.txt"), "utf8").split("\n")) {
    const [name, password] = line.trim().split(/\s+/);
    if (name) accounts[name] = password;
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  fs.writeFileSync(path.join(artifacts, "server.log"), serverLog);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function session(user, locale = "en-US") {
  const ctx = await browser.newContext({ acceptDownloads: true, locale });
  const page = await ctx.newPage();
  await page.goto(`${base}/ui/login`);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", accounts[user]);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/ui/login"] button')]);
  assert.ok(!page.url().includes("failed"), `${user} could not log in`);
  return { ctx, page };
}

test("each role lands where its work is", async () => {
  for (const [user, want] of [
    ["analyst", "/ui/alerts"],
    ["auditor", "/ui/ledger"],
    ["admin", "/ui/register/exposure"],
    ["owner", "/ui/register/exposure"],
    ["employee", "/ui/report"],
  ]) {
    const { ctx, page } = await session(user);
    assert.equal(new URL(page.url()).pathname, want, `${user} lands on ${want}`);
    // A console page with the role's navigation, not a refusal.
    assert.ok((await page.locator("nav a").count()) > 2, `${user}: a console page`);
    assert.equal(await page.locator("h1").count(), 1);
    await shot(page, `00-landing-${user}`);
    await ctx.close();
  }
});

test("the queue is one row a person, counted, filtered and paged", async () => {
  const { ctx, page } = await session("analyst");
  await page.goto(`${base}/ui/alerts`);
  const count = await page.textContent("p.count");
  const m = count.match(/^(\d+) people, (\d+) alerts \(page 1 of (\d+)\)$/);
  assert.ok(m, `the queue says how many: ${count}`);
  const [people, alerts, pages] = m.slice(1).map(Number);
  assert.ok(alerts >= people && people > 0, count);
  const names = await page.locator("tr.alert td a[href^=\"/ui/people/\"]").allTextContents();
  assert.equal(new Set(names).size, names.length, "one row a person");
  assert.equal(names.length, Math.min(people, 25));
  if (pages > 1) {
    await Promise.all([page.waitForNavigation(), page.click("p.pager a.page")]);
    assert.match(await page.textContent("p.count"), /\(page 2 of /);
    const second = await page.locator("tr.alert td a[href^=\"/ui/people/\"]").allTextContents();
    assert.ok(second.every((n) => !names.includes(n)), "page 2 shows other people");
  }
  // Dismiss the last row's alert as benign, with a reason: it says so, and
  // the indicators it carried get a precision figure.
  await page.goto(`${base}/ui/alerts?sort=latest`);
  const last = page.locator("tr.alert").last();
  const dismissed = await last.getAttribute("data-alert");
  await last.locator("select[name=status]").selectOption("dismissed");
  await last.locator("select[name=reason]").selectOption("benign_explained");
  await last.locator("input[name=note]").fill("the manager confirmed the customer visit");
  await last.locator("input[name=suppress_days]").fill("30");
  await Promise.all([page.waitForNavigation(), last.locator("form.triage button").click()]);
  const row = page.locator(`tr.alert[data-alert="${dismissed}"]`);
  assert.match(await row.locator("td.triage").textContent(), /dismissed: benign_explained \(analyst\)/);
  assert.ok((await page.locator("tr.precision").count()) > 0, "precision per indicator shown");
  await shot(page, "00-queue-dismissed");

  // A filter on severity keeps to it, and the pager keeps the filter.
  await page.goto(`${base}/ui/alerts?severity=high`);
  const sev = await page.locator("tr.alert td:nth-child(2)").allTextContents();
  assert.ok(sev.every((s) => s === "high"), `only high: ${sev}`);
  await shot(page, "00-queue-high");
  await ctx.close();
});

test("an analyst works the top alert into a case and a bundle that verifies", async () => {
  const { ctx, page } = await session("analyst");
  await page.goto(`${base}/ui/alerts`);
  await shot(page, "01-alert-queue");
  const scores = (await page.locator("tr.alert td:first-child").allTextContents()).map(Number);
  assert.ok(scores.length >= 3, `expected alerts in the demo queue, got ${scores.length}`);
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1] >= scores[i], "ranked by score");
  const top = page.locator("tr.alert").first();
  const alertId = await top.getAttribute("data-alert");
  const pseudonym = (await top.locator("td a").first().textContent()).trim();
  assert.match(pseudonym, /^P-[0-9A-F]{6}$/);
  // Names are pseudonymised in the queue.
  assert.ok(!/E1\d{4}/.test(await top.textContent()), "the queue shows no user id");

  // The top alert's page: its indicators with weights, the events it
  // cites with document titles and levels, the chart.
  await Promise.all([page.waitForNavigation(), top.locator("a.alert-link").click()]);
  assert.equal(new URL(page.url()).pathname, `/ui/alerts/${alertId}`);
  assert.ok((await page.locator("tr.indicator").count()) > 0, "indicators listed");
  assert.ok((await page.locator("tr.evidence").count()) > 0, "evidence events listed");
  assert.match(await page.locator("tr.evidence").first().textContent(), /\((public|internal|confidential|secret)\)|logon|mail|usb|web/);
  assert.ok(!/E1\d{4}/.test(await page.textContent("body")), "the alert page shows no user id");
  await shot(page, "01b-alert-page");
  await page.goto(`${base}/ui/alerts`);

  // The person behind the top alert: timeline and escalation chart.
  await Promise.all([page.waitForNavigation(), top.locator("td a").first().click()]);
  assert.equal(new URL(page.url()).pathname, `/ui/people/${pseudonym}`);
  assert.ok((await page.locator("svg.escalation rect.week").count()) > 0, "weekly bars drawn");
  assert.ok((await page.locator("table.timeline tr.alert").count()) >= 1, "alerts on the timeline");
  await shot(page, "02-person");
  await page.locator("svg.escalation").screenshot({ path: path.join(artifacts, "02-person-chart.png") });
  assert.equal(await page.locator("b.revealed").count(), 0);
  await page.fill("input[name=reason]", "Interview planned for the case");
  await Promise.all([page.waitForNavigation(), page.click("form.reveal button")]);
  const name = (await page.locator("b.revealed").textContent()).trim();
  assert.ok(name.length > 2, "the name is shown once revealed");
  assert.ok(
    (await page.locator("table.timeline").textContent()).includes("name revealed to analyst"),
    "the reveal is on the person's record",
  );
  await shot(page, "03-name-revealed");

  // Open a case from the top alert, add a note.
  await page.goto(`${base}/ui/alerts`);
  await Promise.all([
    page.waitForURL(/\/ui\/cases\/CASE-/),
    page.locator(`tr.alert[data-alert="${alertId}"] button`, { hasText: "Open a case" }).click(),
  ]);
  const caseId = page.url().split("/").pop();
  assert.ok((await page.textContent("body")).includes(alertId), "the case names its alert");
  const note = "Printed confidential manuals the evening before each meeting; interview with HR on Monday.";
  await page.fill("textarea[name=text]", note);
  await Promise.all([page.waitForNavigation(), page.click("text=Add the note")]);
  assert.ok((await page.textContent("table")).includes(note), "the note is on the case");
  await shot(page, "04-case-with-note");

  // Export the bundle and verify it offline with the binary.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("text=Download the evidence bundle"),
  ]);
  const zip = path.join(artifacts, `${caseId}.zip`);
  await download.saveAs(zip);
  const out = execFileSync(bin, ["bundle", "verify", zip, "--json"], { encoding: "utf8" });
  const report = JSON.parse(out);
  assert.equal(report.verified, true, out);
  assert.ok(report.by_kind.custody >= 2, `open and note proven: ${out}`);
  const text = execFileSync(bin, ["bundle", "verify", zip], { encoding: "utf8" });
  assert.match(text, /^VERIFIED: /);
  fs.writeFileSync(path.join(artifacts, "bundle-verify.txt"), text);

  // Assign it, close it with a reason, reopen it: each on the case.
  await page.goto(`${base}/ui/cases/${caseId}`);
  await page.fill("form.assign input[name=to]", "analyst");
  await Promise.all([page.waitForNavigation(), page.click("form.assign button")]);
  assert.equal((await page.textContent("b.assignee")).trim(), "analyst");
  await page.fill("form.status input[name=reason]", "explained by the department head");
  await Promise.all([page.waitForNavigation(), page.click("form.status button")]);
  assert.equal((await page.textContent("b.case-status")).trim(), "closed");
  await shot(page, "04-case-closed");
  await page.fill("form.status input[name=reason]", "new prints after the interview");
  await Promise.all([page.waitForNavigation(), page.click("form.status button")]);
  assert.equal((await page.textContent("b.case-status")).trim(), "open");

  // One case per alert: opening it again goes to this case.
  await page.goto(`${base}/ui/alerts`);
  await Promise.all([
    page.waitForURL(/\/ui\/cases\/CASE-/),
    page.locator(`tr.alert[data-alert="${alertId}"] button`, { hasText: "Open a case" }).click(),
  ]);
  assert.equal(page.url().split("/").pop(), caseId, "the alert's one case");

  // The case list shows it, once.
  await page.goto(`${base}/ui/cases`);
  const listed = await page.textContent("table");
  assert.equal(listed.split(caseId).length - 1, 1, "one case for the alert");
  await ctx.close();
});

test("an employee's report joins the group of an earlier one", async () => {
  const analyst = await session("analyst");
  const groups = await (await analyst.page.request.get(`${base}/api/contacts/groups`)).json();
  assert.ok(groups.length >= 1, "the demo company has a group of reports");
  const g = groups[0];
  const earlier = g.reports[0];
  const first = g.name.split(/\s+/)[0];
  const metOn = new Date(Date.parse(g.first_met) + 20 * 86400_000).toISOString().slice(0, 10);

  // The employee's browser speaks Japanese: the form does too.
  const { ctx, page } = await session("employee", "ja-JP");
  await page.goto(`${base}/ui/report`);
  assert.equal(await page.getAttribute("html", "lang"), "ja");
  assert.ok((await page.textContent(".note")).includes("道を尋ね"), "the known pattern is explained");
  await page.fill("input[name=met_on]", metOn);
  await page.fill("input[name=place]", "駅前の喫茶店");
  await page.selectOption("select[name=approach]", earlier.approach);
  await page.fill("input[name=claimed_name]", first);
  if (earlier.counterpart.claimed_nationality)
    await page.fill("input[name=claimed_nationality]", earlier.counterpart.claimed_nationality);
  await page.fill("input[name=meetings]", "2");
  await page.fill("input[name=requests]", "brochure");
  await page.fill("textarea[name=narrative]", "道を聞かれ、お礼に食事に誘われた。");
  await shot(page, "05-contact-report-ja");
  await Promise.all([page.waitForNavigation(), page.click('form[action="/ui/report"] button')]);
  const filed = new URL(page.url()).searchParams.get("filed");
  assert.match(filed, /^CR-WEB-/);
  await shot(page, "06-contact-report-filed");
  await ctx.close();

  // The analyst sees it in the same group as the earlier report.
  await analyst.page.goto(`${base}/ui/contacts`);
  const section = analyst.page.locator("section.group", { hasText: filed });
  assert.equal(await section.count(), 1, "the new report is in a group");
  const members = await section.locator("tr").allTextContents();
  assert.ok(
    members.some((m) => m.includes(earlier.id)),
    `grouped with ${earlier.id}: ${members.join(" | ")}`,
  );
  await section.scrollIntoViewIfNeeded();
  await shot(analyst.page, "07-contact-groups");
  await analyst.ctx.close();
});

test("an auditor verifies the ledger from the console", async () => {
  const { ctx, page } = await session("auditor");
  await page.goto(`${base}/ui/ledger?lang=en`);
  const size = Number(await page.textContent("td.size"));
  assert.ok(size > 1000, `the demo's ledger has entries: ${size}`);
  await Promise.all([page.waitForNavigation(), page.click("text=Verify the whole ledger now")]);
  const result = await page.textContent(".verify-result");
  assert.match(result, /^VERIFIED: \d+ entries/);
  await shot(page, "08-ledger-verified");
  // The auditor has no business in the alert queue.
  const r = await page.goto(`${base}/ui/alerts`);
  assert.equal(r.status(), 403);
  await ctx.close();
});
