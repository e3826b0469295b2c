//! Continuous detection: the engine kept running over what the store
//! receives (the API, the drop folder, an import into the same store), its
//! state checkpointed in the store.
//!
//! Rules:
//! 1. Every stored event is read once, by store sequence, as it arrives.
//!    The engine needs them in data-time order (`ts`, then id hash) and
//!    sources arrive out of step, so events are held back `late` behind
//!    the newest event time seen (the watermark; 48 hours unless
//!    configured). The *settled* engine has taken every event up to the
//!    watermark, in order; nothing it took is taken back.
//! 2. Alerts do not wait for the watermark: events newer than it are
//!    judged at once by a copy of the settled engine (the *head*) that
//!    takes them in order; its alerts are stored and ledgered in the step
//!    that read the event. An event that falls between events the head
//!    already took makes the head start again from the settled engine and
//!    take the held events in their right order.
//! 3. While every event arrives within `late` of the newest one, the
//!    alerts are exactly those `custodian detect --from-store` gives over
//!    the same events, whatever the batches and restarts (an alert's id
//!    derives from its content, so raising it again stores nothing). An
//!    alert the head raised that a restarted head no longer raises, or
//!    that the settled engine did not raise once the watermark passed it,
//!    was made wrong by an event that came late: it is withdrawn (a
//!    ledgered triage status `withdrawn`, reason `superseded`), never
//!    deleted.
//! 4. An event older than the watermark when it arrives is later than the
//!    window: the settled engine takes it when it arrives, after the
//!    events it already took, judged at its own time against the state of
//!    that moment (the engine counts it out of order). It is counted as
//!    `late`, never dropped; `detect --from-store` puts it in its place and
//!    may judge it otherwise.
//! 5. The settled engine is saved in the store (at most every
//!    `checkpoint_every` seconds) with the sequence it has read up to, the
//!    watermark and the lowest sequence among the held events: a restart,
//!    also after `kill -9`, restores it and reads only the events from that
//!    sequence on (those it had already settled are skipped).
//! 6. The checkpoint names what it was made from: the directory, register,
//!    HR history, contact reports and `[detect]` settings (a SHA-256 of
//!    them). When any of them changes, the engine starts afresh over every
//!    stored event, as `detect --from-store` would judge every event
//!    against the context as it is now. Alerts already settled stand, and
//!    so does every alert stored before a first start without a checkpoint
//!    (an earlier `detect --from-store`, another configuration).
//! 7. The register's exposure findings are recorded once per data day of
//!    the watermark.
//! 8. Events whose user is not in the directory are counted and not
//!    judged (as the batch sets them aside); a stored line that no longer
//!    parses is counted and logged by sequence, never by content.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use custodian_core::interchange::parse_event;
use custodian_detect::fast;
use custodian_detect::{id_hash, Alert, Config, Context, Engine, Names, NONE};
use custodian_store::{EngineCheckpoint, LedgerContext, NewAlert, Store};

use super::{new_alert, store_alerts};
use crate::error::{AppError, Result};

/// The checkpoint's name in the store.
pub const CHECKPOINT: &str = "live";
const DAY_US: i64 = 86_400_000_000;
const PAGE: u32 = 20_000;

/// How continuous detection runs.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// How late an event may arrive and still count exactly, in seconds.
    pub late_secs: i64,
    /// The least time between two checkpoints, in seconds.
    pub checkpoint_every: i64,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            late_secs: 48 * 3600,
            checkpoint_every: 30,
        }
    }
}

/// What the checkpoint says besides the engine's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    fingerprint: String,
    /// Every event of sequence up to this has been read.
    read_seq: i64,
    /// Events of sequence above this may be held (not settled).
    replay_from: i64,
    watermark: i64,
    max_ts: i64,
    exposure_day: i64,
    stats: LiveStats,
}

/// What continuous detection has done since the store was new (or since
/// the engine last started afresh), for `/metrics` and the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStats {
    /// Events read from the store.
    pub events: u64,
    /// Events older than the watermark when they arrived (rule 4).
    pub late: u64,
    /// Events whose user is not in the directory.
    pub unknown_users: u64,
    /// Stored lines that did not parse.
    pub unreadable: u64,
    /// Alerts newly stored.
    pub alerts: u64,
    /// Alerts withdrawn (rule 3).
    pub withdrawn: u64,
    /// Times the head started again from the settled engine.
    pub head_restarts: u64,
    /// Times the engine started afresh over every event (rule 6).
    pub fresh_starts: u64,
}

/// What one step did, and where detection stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Step {
    /// Stored events read in this step.
    pub read: u64,
    /// Alerts newly stored, and withdrawn, in this step.
    pub stored: u64,
    pub withdrawn: u64,
    /// The store sequence read up to, the newest event time seen and the
    /// watermark (microseconds since the epoch; `i64::MIN`: none yet).
    pub read_seq: i64,
    pub newest_us: i64,
    pub watermark_us: i64,
    /// Events held ahead of the watermark.
    pub held: usize,
    pub checkpointed: bool,
    /// Everything since the store was new.
    pub stats: LiveStats,
}

/// An event's place in the engine's order.
type Key = (i64, u64, Box<str>);

/// An event read but not settled.
struct Held {
    seq: i64,
    line: Box<str>,
}

/// Continuous detection over one store.
pub struct Live {
    cfg: Config,
    opts: LiveOptions,
    fingerprint: String,
    settled: Engine,
    names: Arc<Names>,
    /// The head and the last event it took; `None`: start it again.
    head: Option<(Engine, Option<Key>)>,
    held: BTreeMap<Key, Held>,
    /// Alerts stored ahead of the watermark: id → (raised at, person).
    provisional: BTreeMap<String, (i64, String)>,
    read_seq: i64,
    /// After a restore: events up to this sequence and this time were
    /// settled before the checkpoint (rule 5).
    skip: Option<(i64, i64)>,
    watermark: i64,
    max_ts: i64,
    exposure_day: i64,
    stats: LiveStats,
    saved_at: Option<i64>,
    /// Whether the settled engine moved since the last checkpoint.
    moved: bool,
}

async fn context(store: &dyn Store) -> Result<Context> {
    Ok(Context {
        people: store.people().await?,
        documents: store.documents().await?,
        hr: store.hr_events().await?,
        contacts: store.contact_reports().await?,
    })
}

/// What the checkpoint was made from (rule 6).
fn fingerprint(ctx: &Context, cfg: &Config) -> Result<String> {
    let mut h = Sha256::new();
    let parts = [
        serde_json::to_vec(&ctx.people),
        serde_json::to_vec(&ctx.documents),
        serde_json::to_vec(&ctx.hr),
        serde_json::to_vec(&ctx.contacts),
        serde_json::to_vec(cfg),
    ];
    for v in parts {
        let v = v.map_err(|e| AppError::Failed(format!("fingerprint: {e}")))?;
        h.update((v.len() as u64).to_le_bytes());
        h.update(v);
    }
    h.update(custodian_detect::CHECKPOINT_FORMAT.to_le_bytes());
    Ok(hex::encode(h.finalize()))
}

/// A stored line's place in the order, or why it has none.
enum Read {
    Event(Key),
    UnknownUser,
    Unreadable,
}

fn read_key(line: &str, names: &Names) -> Read {
    match fast::parse_line(line, line, names) {
        Ok(p) => Read::Event((p.ev.ts_us, p.idh, p.id(line).into())),
        Err(fast::Fallback::UnknownUser) => Read::UnknownUser,
        Err(fast::Fallback::Ordinary) => match parse_event(line.as_bytes()) {
            Ok(e) if names.user(&e.user) == NONE => Read::UnknownUser,
            Ok(e) => Read::Event((e.ts.timestamp_micros(), id_hash(&e.id), e.id.into())),
            Err(_) => Read::Unreadable,
        },
    }
}

/// One line into an engine (it parsed when it was read).
fn judge(engine: &mut Engine, names: &Names, line: &str) -> Option<Alert> {
    match fast::parse_line(line, line, names) {
        Ok(p) => engine.push_ev(&p.ev(line)),
        Err(_) => {
            let e = parse_event(line.as_bytes()).ok()?;
            engine.push_ev(&names.compact(&e))
        }
    }
}

impl Live {
    /// Continuous detection over `store`: from its checkpoint when that was
    /// made from the store's present context and `cfg`, else afresh.
    pub async fn open(store: &dyn Store, cfg: Config, opts: LiveOptions) -> Result<Live> {
        let ctx = context(store).await?;
        let fingerprint = fingerprint(&ctx, &cfg)?;
        let settled = Engine::new(&ctx, cfg.clone());
        let mut live = Live {
            names: settled.names(),
            cfg,
            opts,
            fingerprint,
            settled,
            head: None,
            held: BTreeMap::new(),
            provisional: BTreeMap::new(),
            read_seq: 0,
            skip: None,
            watermark: i64::MIN,
            max_ts: i64::MIN,
            exposure_day: i64::MIN,
            stats: LiveStats::default(),
            saved_at: None,
            moved: false,
        };
        let mut resumed = false;
        if let Some(cp) = store.engine_checkpoint(CHECKPOINT).await? {
            match live.resume(&cp) {
                Ok(()) => resumed = true,
                Err(why) => {
                    tracing::warn!("continuous detection starts afresh: {why}");
                    live.stats.fresh_starts += 1;
                }
            }
        }
        // Alerts ahead of the checkpoint's watermark stand only if the head
        // raises them again (rule 3); without a checkpoint every stored
        // alert was settled by whoever stored it, and stands (rule 6).
        if !resumed {
            return Ok(live);
        }
        let withdrawn = crate::triage::statuses(store).await?;
        for a in store.alerts(u32::MAX).await? {
            let us = a.raised_at.timestamp_micros();
            let gone = withdrawn
                .get(&a.id)
                .is_some_and(|s| s.status == crate::triage::WITHDRAWN);
            if us > live.watermark && !gone {
                live.provisional.insert(a.id, (us, a.user));
            }
        }
        Ok(live)
    }

    /// Takes a checkpoint made from the same context, or says why not.
    fn resume(&mut self, cp: &EngineCheckpoint) -> std::result::Result<(), String> {
        let meta: Meta = serde_json::from_str(&cp.meta).map_err(|e| format!("its record: {e}"))?;
        if meta.fingerprint != self.fingerprint {
            return Err("the directory, register, HR history, contact reports or [detect] settings changed since the checkpoint".into());
        }
        let engine = Engine::restore(self.cfg.clone(), &cp.state).map_err(|e| e.to_string())?;
        self.names = engine.names();
        self.settled = engine;
        self.read_seq = meta.replay_from;
        self.skip = Some((meta.read_seq, meta.watermark));
        self.watermark = meta.watermark;
        self.max_ts = meta.max_ts;
        self.exposure_day = meta.exposure_day;
        self.stats = meta.stats;
        self.saved_at = None;
        tracing::info!(
            read_seq = meta.read_seq,
            replay_from = meta.replay_from,
            "continuous detection resumes from its checkpoint"
        );
        Ok(())
    }

    /// Everything since the store was new.
    pub fn stats(&self) -> LiveStats {
        self.stats
    }

    /// Starts afresh over every stored event with a new context (rule 6).
    fn afresh(&mut self, ctx: &Context, fingerprint: String) {
        tracing::info!(
            "the context changed: continuous detection starts afresh over every stored event"
        );
        self.settled = Engine::new(ctx, self.cfg.clone());
        self.names = self.settled.names();
        self.fingerprint = fingerprint;
        self.head = None;
        self.held.clear();
        self.read_seq = 0;
        self.skip = None;
        self.max_ts = i64::MIN;
        // Alerts up to the old watermark stand; those after it are judged
        // again by the head.
        self.watermark = i64::MIN;
        self.exposure_day = i64::MIN;
        let stats = self.stats;
        self.stats = LiveStats {
            fresh_starts: stats.fresh_starts + 1,
            ..LiveStats::default()
        };
        self.moved = true;
    }

    /// Reads what the store received since the last step, judges it,
    /// stores and ledgers the alerts, withdraws what a late event made
    /// wrong and checkpoints when due. `now` is the wall-clock time
    /// (records' times and the checkpoint's pace).
    pub async fn step(
        &mut self,
        store: &dyn Store,
        ledger: &LedgerContext,
        now: DateTime<FixedOffset>,
    ) -> Result<Step> {
        let ctx = context(store).await?;
        let fp = fingerprint(&ctx, &self.cfg)?;
        if fp != self.fingerprint {
            self.afresh(&ctx, fp);
        }
        drop(ctx);
        let mut step = Step::default();
        loop {
            let page = store.event_lines(self.read_seq, PAGE).await?;
            let full = page.len() == PAGE as usize;
            let (mut settled, mut ahead) = (Vec::new(), Vec::new());
            for (seq, line) in page {
                self.read_seq = seq;
                step.read += 1;
                self.take(seq, line.into_boxed_str(), &mut settled);
            }
            if self.skip.is_some_and(|(upto, _)| self.read_seq >= upto) {
                self.skip = None;
            }
            // The head takes what it has not before the watermark settles
            // it (a batch may span more than the window).
            if self.head.is_some() {
                ahead = self.advance_head();
            }
            self.settle(&mut settled);
            step.stored += self.keep(store, ledger, &ahead, true).await?;
            step.stored += self.keep(store, ledger, &settled, false).await?;
            // Behind the watermark the settled engine is the judge: what
            // the head raised there and it did not is withdrawn.
            let w = self.watermark;
            step.withdrawn += self.withdraw(store, ledger, now, |_, us| us <= w).await?;
            if !full {
                break;
            }
        }
        if self.head.is_none() {
            // Start the head again; what it no longer raises is withdrawn.
            self.stats.head_restarts += 1;
            self.head = Some((self.settled.clone(), None));
            let raised = self.advance_head();
            let new: Vec<NewAlert> = raised.iter().map(new_alert).collect::<Result<_>>()?;
            let ids: BTreeSet<String> = new.into_iter().map(|a| a.id).collect();
            step.withdrawn += self
                .withdraw(store, ledger, now, |id, _| !ids.contains(id))
                .await?;
            step.stored += self.keep(store, ledger, &raised, true).await?;
        }
        self.stats.alerts += step.stored;
        self.stats.withdrawn += step.withdrawn;
        let day = self.watermark.div_euclid(DAY_US);
        if self.watermark > i64::MIN && day > self.exposure_day {
            self.exposure_day = day;
            crate::exposure::record(store, &self.settled.exposures(), ledger).await?;
        }
        let due = self
            .saved_at
            .is_none_or(|t| now.timestamp() - t >= self.opts.checkpoint_every);
        if self.moved && due && self.skip.is_none() {
            self.save(store, now).await?;
            step.checkpointed = true;
        }
        step.read_seq = self.read_seq;
        step.newest_us = self.max_ts;
        step.watermark_us = self.watermark;
        step.held = self.held.len();
        step.stats = self.stats;
        Ok(step)
    }

    /// Stores and ledgers alerts (new ones counted); those of the head
    /// are provisional until the watermark passes them.
    async fn keep(
        &mut self,
        store: &dyn Store,
        ledger: &LedgerContext,
        alerts: &[Alert],
        ahead: bool,
    ) -> Result<u64> {
        let new: Vec<NewAlert> = alerts.iter().map(new_alert).collect::<Result<_>>()?;
        let n = store_alerts(store, ledger, &new).await?;
        for a in new {
            if ahead {
                let at = a.raised_at.timestamp_micros();
                self.provisional.insert(a.id, (at, a.user));
            } else {
                self.provisional.remove(&a.id);
            }
        }
        Ok(n)
    }

    /// Withdraws the provisional alerts `stale` picks (by id and time).
    async fn withdraw(
        &mut self,
        store: &dyn Store,
        ledger: &LedgerContext,
        now: DateTime<FixedOffset>,
        stale: impl Fn(&str, i64) -> bool,
    ) -> Result<u64> {
        let gone: Vec<(String, String)> = self
            .provisional
            .iter()
            .filter(|(id, (us, _))| stale(id, *us))
            .map(|(id, (_, user))| (id.clone(), user.clone()))
            .collect();
        for (id, user) in &gone {
            crate::triage::withdraw(store, ledger, now, id, user).await?;
            self.provisional.remove(id);
        }
        Ok(gone.len() as u64)
    }

    /// One stored event read (rules 1, 4, 5, 8).
    fn take(&mut self, seq: i64, line: Box<str>, settled_alerts: &mut Vec<Alert>) {
        let again = self.skip.filter(|(upto, _)| seq <= *upto);
        let key = match read_key(&line, &self.names) {
            Read::Event(k) => k,
            _ if again.is_some() => return,
            Read::UnknownUser => {
                self.stats.events += 1;
                self.stats.unknown_users += 1;
                return;
            }
            Read::Unreadable => {
                self.stats.events += 1;
                self.stats.unreadable += 1;
                tracing::warn!(
                    seq,
                    "a stored event does not parse; continuous detection leaves it"
                );
                return;
            }
        };
        if let Some((_, w)) = again {
            // Read before the checkpoint: settled then, or held again.
            if key.0 > w {
                self.held.insert(key, Held { seq, line });
            }
            return;
        }
        self.stats.events += 1;
        if key.0 <= self.watermark {
            self.stats.late += 1;
            settled_alerts.extend(judge(&mut self.settled, &self.names, &line));
            self.head = None;
            self.moved = true;
            return;
        }
        self.max_ts = self.max_ts.max(key.0);
        if let Some((_, Some(pos))) = &self.head {
            if key < *pos {
                self.head = None;
            }
        }
        self.held.insert(key, Held { seq, line });
    }

    /// Moves the watermark and settles what falls behind it (rule 1).
    fn settle(&mut self, alerts: &mut Vec<Alert>) {
        if self.max_ts == i64::MIN {
            return;
        }
        let w = self
            .max_ts
            .saturating_sub(self.opts.late_secs.saturating_mul(1_000_000));
        if w <= self.watermark {
            return;
        }
        self.watermark = w;
        let keep = self.held.split_off(&(w + 1, 0, Box::from("")));
        let due = std::mem::replace(&mut self.held, keep);
        for (_, h) in due {
            alerts.extend(judge(&mut self.settled, &self.names, &h.line));
            self.moved = true;
        }
    }

    /// Brings the head up to every held event it has not taken (rule 2),
    /// giving its alerts.
    fn advance_head(&mut self) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let Some((head, pos)) = &mut self.head else {
            return alerts;
        };
        let from = match pos.as_ref() {
            Some(p) => std::ops::Bound::Excluded(p.clone()),
            None => std::ops::Bound::Unbounded,
        };
        for (k, h) in self.held.range((from, std::ops::Bound::Unbounded)) {
            alerts.extend(judge(head, &self.names, &h.line));
            *pos = Some(k.clone());
        }
        alerts
    }

    /// Saves a checkpoint now (on shutdown, or to measure it), if nothing
    /// is being replayed; its size in bytes.
    pub async fn checkpoint_now(
        &mut self,
        store: &dyn Store,
        now: DateTime<FixedOffset>,
    ) -> Result<usize> {
        if self.skip.is_some() {
            return Ok(0);
        }
        self.save(store, now).await
    }

    /// Saves the settled engine (rule 5); the state's size in bytes.
    async fn save(&mut self, store: &dyn Store, now: DateTime<FixedOffset>) -> Result<usize> {
        let replay_from = self
            .held
            .values()
            .map(|h| h.seq - 1)
            .min()
            .unwrap_or(self.read_seq)
            .min(self.read_seq);
        let meta = Meta {
            fingerprint: self.fingerprint.clone(),
            read_seq: self.read_seq,
            replay_from,
            watermark: self.watermark,
            max_ts: self.max_ts,
            exposure_day: self.exposure_day,
            stats: self.stats,
        };
        let state = self.settled.checkpoint();
        let cp = EngineCheckpoint {
            name: CHECKPOINT.into(),
            meta: serde_json::to_string(&meta).map_err(|e| AppError::Failed(e.to_string()))?,
            state,
            saved_at: now.to_rfc3339(),
        };
        let n = cp.state.len();
        store.put_engine_checkpoint(&cp).await?;
        self.saved_at = Some(now.timestamp());
        self.moved = false;
        Ok(n)
    }
}
