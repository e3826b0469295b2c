//! Login throttling: who may have a password checked, now.
//!
//! Rules:
//! * An attempt is counted as a failure **before** its password is checked,
//!   under one lock, and taken back only when it succeeds: parallel attempts
//!   cannot overrun a limit (check and count are one step).
//! * Per account and source (the client's address): after
//!   [`PAIR_FAILURES`] failures that pair waits [`PAIR_LOCK_SECS`], doubling
//!   with every further lockout up to [`PAIR_LOCK_MAX_SECS`]; a success
//!   clears it.
//! * Per source: after [`SOURCE_FAILURES`] failures within
//!   [`WINDOW_SECS`] the source waits for any account.
//! * Per account, a ceiling that slows rather than blocks: after
//!   [`ACCOUNT_FAILURES`] failures within the window, a source that has not
//!   logged in to that account before may try it once per
//!   [`ACCOUNT_SLOW_SECS`] (all such sources together). A source that has
//!   (a *known pair*, remembered for [`KNOWN_SECS`]) is not slowed: a
//!   stranger rotating addresses cannot lock the real user out of their own
//!   machine.
//! * Anonymous work overall: after [`GLOBAL_FAILURES`] failures within the
//!   window from everyone, only known pairs are checked.
//! * At most `verifiers` Argon2id checks run at once (about 19 MiB each)
//!   and at most [`MAX_WAITING`] wait for one; beyond that the answer is
//!   "busy" at once: memory stays bounded whatever the flood. Known pairs
//!   have checks of their own ([`KNOWN_VERIFIERS`] at once, waiting as
//!   long as needed), so a flood of strangers never makes the real user's
//!   login "busy".
//! * The tables hold at most [`MAX_ENTRIES`] entries each; expired entries
//!   are pruned on every write and, when full, the oldest goes. Accounts are
//!   keyed by the SHA-256 of the name typed, never the name itself.
//! * The clock is the caller's (seconds), so tests control time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

pub const PAIR_FAILURES: u32 = 5;
pub const PAIR_LOCK_SECS: i64 = 60;
pub const PAIR_LOCK_MAX_SECS: i64 = 15 * 60;
pub const SOURCE_FAILURES: u32 = 30;
pub const ACCOUNT_FAILURES: u32 = 20;
pub const ACCOUNT_SLOW_SECS: i64 = 5;
pub const GLOBAL_FAILURES: u32 = 600;
pub const WINDOW_SECS: i64 = 10 * 60;
pub const KNOWN_SECS: i64 = 30 * 24 * 3600;
pub const MAX_WAITING: usize = 16;
pub const KNOWN_VERIFIERS: usize = 2;
pub const MAX_ENTRIES: usize = 50_000;

/// Why an attempt is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures: try again after this many seconds.
    Limited { retry_after: i64 },
    /// Too many checks in flight: try again shortly.
    Busy,
}

type Key = [u8; 32];

fn key(parts: &[&str]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

#[derive(Clone, Copy, Default)]
struct Pair {
    failures: u32,
    lockouts: u32,
    until: i64,
    /// Last touched (for pruning).
    at: i64,
}

#[derive(Clone, Copy, Default)]
struct Window {
    failures: u32,
    since: i64,
    /// The next slot for a source not known to this account.
    next_slot: i64,
}

impl Window {
    fn current(&mut self, now: i64) -> &mut Self {
        if now - self.since >= WINDOW_SECS {
            *self = Window {
                next_slot: self.next_slot,
                since: now,
                failures: 0,
            };
        }
        self
    }
}

#[derive(Default)]
struct Tables {
    pairs: HashMap<Key, Pair>,
    sources: HashMap<Key, Window>,
    accounts: HashMap<Key, Window>,
    /// Pairs that logged in, with when.
    known: HashMap<Key, i64>,
    global: Window,
}

/// Keeps `map` under [`MAX_ENTRIES`]: when full, the expired entries go,
/// and if that is not enough the oldest tenth, in one pass (so a flood of
/// new names costs one sweep per 5,000 inserts, not one per insert).
fn bounded<V>(map: &mut HashMap<Key, V>, live: impl Fn(&V) -> bool, age: impl Fn(&V) -> i64) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, v| live(v));
    if map.len() < MAX_ENTRIES * 9 / 10 {
        return;
    }
    let mut ages: Vec<i64> = map.values().map(&age).collect();
    let mut k = ages.len() / 10;
    let (_, &mut cut, _) = ages.select_nth_unstable(k);
    // A tenth, from the oldest (which of those tied at the cut, anyhow).
    map.retain(|_, v| {
        if k > 0 && age(v) <= cut {
            k -= 1;
            false
        } else {
            true
        }
    });
}

/// The login throttle of one server.
pub struct Throttle {
    tables: Mutex<Tables>,
    verifiers: tokio::sync::Semaphore,
    known_verifiers: tokio::sync::Semaphore,
    waiting: AtomicUsize,
}

/// An attempt that was counted as a failure before its check; call
/// [`Attempt::succeeded`] to take that back.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    /// The pair logged in before (see the rules).
    pub known: bool,
    pair: Key,
    source: Key,
    account: Key,
}

impl Throttle {
    /// `verifiers`: how many password checks may run at once.
    pub fn new(verifiers: usize) -> Throttle {
        Throttle {
            tables: Mutex::new(Tables::default()),
            verifiers: tokio::sync::Semaphore::new(verifiers.max(1)),
            known_verifiers: tokio::sync::Semaphore::new(KNOWN_VERIFIERS),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Counts an attempt of `account` from `source` at `now` as a failure,
    /// unless a limit refuses it first.
    pub fn begin(&self, account: &str, source: &str, now: i64) -> Result<Attempt<'_>, Refusal> {
        let pair = key(&["pair", account, source]);
        let source_k = key(&["source", source]);
        let account_k = key(&["account", account]);
        let mut t = self.tables.lock().map_err(|_| Refusal::Busy)?;
        let known = t.known.get(&pair).is_some_and(|&at| now - at < KNOWN_SECS);
        let p = t.pairs.get(&pair).copied().unwrap_or_default();
        if p.until > now {
            return Err(Refusal::Limited {
                retry_after: p.until - now,
            });
        }
        let mut s = t.sources.get(&source_k).copied().unwrap_or_default();
        let s = *s.current(now);
        if s.failures >= SOURCE_FAILURES && !known {
            return Err(Refusal::Limited {
                retry_after: s.since + WINDOW_SECS - now,
            });
        }
        let g = *t.global.current(now);
        if g.failures >= GLOBAL_FAILURES && !known {
            return Err(Refusal::Limited {
                retry_after: g.since + WINDOW_SECS - now,
            });
        }
        let mut a = t.accounts.get(&account_k).copied().unwrap_or_default();
        let mut a = *a.current(now);
        if a.failures >= ACCOUNT_FAILURES && !known {
            if now < a.next_slot {
                return Err(Refusal::Limited {
                    retry_after: a.next_slot - now,
                });
            }
            a.next_slot = now + ACCOUNT_SLOW_SECS;
        }
        // Counted now, before the check.
        let mut p = p;
        p.failures += 1;
        p.at = now;
        if p.failures >= PAIR_FAILURES {
            let lock = (PAIR_LOCK_SECS << p.lockouts.min(8)).min(PAIR_LOCK_MAX_SECS);
            p.until = now + lock;
            p.lockouts += 1;
            p.failures = 0;
        }
        bounded(
            &mut t.pairs,
            |v| v.until > now || now - v.at < WINDOW_SECS,
            |v| v.at,
        );
        t.pairs.insert(pair, p);
        let mut s = s;
        s.failures += 1;
        bounded(&mut t.sources, |v| now - v.since < WINDOW_SECS, |v| v.since);
        t.sources.insert(source_k, s);
        a.failures += 1;
        bounded(
            &mut t.accounts,
            |v| now - v.since < WINDOW_SECS || v.next_slot > now,
            |v| v.since,
        );
        t.accounts.insert(account_k, a);
        t.global.failures += 1;
        Ok(Attempt {
            throttle: self,
            known,
            pair,
            source: source_k,
            account: account_k,
        })
    }

    /// Waits for a free password check (bounded: [`MAX_WAITING`] wait at
    /// most, the rest are refused as busy).
    pub async fn verifier(&self, known: bool) -> Result<tokio::sync::SemaphorePermit<'_>, Refusal> {
        if known {
            return self
                .known_verifiers
                .acquire()
                .await
                .map_err(|_| Refusal::Busy);
        }
        if let Ok(p) = self.verifiers.try_acquire() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::Busy);
        }
        let p = self.verifiers.acquire().await.map_err(|_| Refusal::Busy);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        p
    }

    /// How many entries the tables hold (pairs, sources, accounts, known).
    pub fn sizes(&self) -> [usize; 4] {
        self.tables.lock().map_or([0; 4], |t| {
            [
                t.pairs.len(),
                t.sources.len(),
                t.accounts.len(),
                t.known.len(),
            ]
        })
    }
}

impl Attempt<'_> {
    fn take_back(&self, t: &mut Tables) {
        if let Some(s) = t.sources.get_mut(&self.source) {
            s.failures = s.failures.saturating_sub(1);
        }
        if let Some(a) = t.accounts.get_mut(&self.account) {
            a.failures = a.failures.saturating_sub(1);
        }
        t.global.failures = t.global.failures.saturating_sub(1);
    }

    /// The password was right: the attempt is no failure, the pair's count
    /// starts again and the pair is known from now on.
    pub fn succeeded(self, now: i64) {
        let Ok(mut t) = self.throttle.tables.lock() else {
            return;
        };
        self.take_back(&mut t);
        t.pairs.remove(&self.pair);
        bounded(&mut t.known, |&at| now - at < KNOWN_SECS, |&at| at);
        t.known.insert(self.pair, now);
    }

    /// The password was wrong: the attempt stays counted, as it was when
    /// it began.
    pub fn failed(self) {}

    /// The password was never checked (the server was busy): the attempt
    /// counts for nothing.
    pub fn not_checked(self) {
        let Ok(mut t) = self.throttle.tables.lock() else {
            return;
        };
        self.take_back(&mut t);
        if let Some(p) = t.pairs.get_mut(&self.pair) {
            p.failures = p.failures.saturating_sub(1);
        }
    }
}

/// What may be logged of a name someone typed: its first three characters.
pub fn log_name(name: &str) -> String {
    let mut s: String = name.chars().take(3).collect();
    if name.chars().nth(3).is_some() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fail(t: &Throttle, a: &str, s: &str, now: i64) -> Result<(), Refusal> {
        t.begin(a, s, now).map(drop)
    }

    #[test]
    fn the_count_comes_before_the_check() {
        let t = Throttle::new(2);
        // Five attempts begun and none finished: the sixth is refused.
        let held: Vec<_> = (0..5)
            .map(|_| t.begin("analyst", "10.0.0.9", 0).unwrap())
            .collect();
        assert_eq!(
            fail(&t, "analyst", "10.0.0.9", 1),
            Err(Refusal::Limited { retry_after: 59 })
        );
        drop(held);
    }

    #[test]
    fn parallel_attempts_never_overrun_the_pair_limit() {
        let t = Throttle::new(2);
        let passed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        if t.begin("analyst", "10.0.0.9", 100).is_ok() {
                            passed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(passed.load(Ordering::SeqCst), PAIR_FAILURES);
    }

    #[test]
    fn lockouts_double_and_a_success_clears_the_pair() {
        let t = Throttle::new(2);
        for _ in 0..5 {
            fail(&t, "a", "s", 0).unwrap();
        }
        assert!(fail(&t, "a", "s", 59).is_err());
        for _ in 0..5 {
            fail(&t, "a", "s", 60).unwrap();
        }
        assert_eq!(
            fail(&t, "a", "s", 61),
            Err(Refusal::Limited { retry_after: 119 })
        );
        t.begin("a", "s", 180).unwrap().succeeded(180);
        for _ in 0..4 {
            fail(&t, "a", "s", 181).unwrap();
        }
        fail(&t, "a", "s", 181).unwrap();
        // Counting started again after the success: the first lockout.
        assert_eq!(
            fail(&t, "a", "s", 182),
            Err(Refusal::Limited { retry_after: 59 })
        );
    }

    #[test]
    fn a_stranger_cannot_lock_the_real_user_out_of_their_own_machine() {
        let t = Throttle::new(2);
        // The analyst logged in from their PC once.
        t.begin("analyst", "10.1.1.1", 0).unwrap().succeeded(0);
        // A stranger from many addresses guesses the analyst's password.
        let mut refused = 0;
        for i in 0..2000 {
            if fail(
                &t,
                "analyst",
                &format!("10.66.{}.{}", i / 250, i % 250),
                10 + i / 100,
            )
            .is_err()
            {
                refused += 1;
            }
        }
        // After the account's ceiling, one guess per slot for all strangers.
        assert!(refused > 1900, "{refused}");
        // The real user, from their own machine, is not slowed at all.
        for _ in 0..3 {
            t.begin("analyst", "10.1.1.1", 30).unwrap().succeeded(30);
        }
        // Another account is not affected by the flood on this one.
        fail(&t, "auditor", "10.2.2.2", 30).unwrap();
    }

    #[test]
    fn one_source_is_limited_across_accounts() {
        let t = Throttle::new(2);
        for i in 0..SOURCE_FAILURES {
            fail(&t, &format!("user{i}"), "10.9.9.9", 0).unwrap();
        }
        assert!(fail(&t, "someone", "10.9.9.9", 1).is_err());
        assert!(fail(&t, "someone", "10.9.9.10", 1).is_ok());
        // The window passes.
        assert!(fail(&t, "someone", "10.9.9.9", WINDOW_SECS).is_ok());
    }

    #[test]
    fn anonymous_checks_overall_are_budgeted() {
        let t = Throttle::new(2);
        t.begin("analyst", "10.1.1.1", 0).unwrap().succeeded(0);
        // Every guess a new account from a new address: only the budget
        // of the window is checked.
        let checked = (0..5_000)
            .filter(|i| fail(&t, &format!("u{i}"), &format!("s{i}"), 1).is_ok())
            .count();
        assert_eq!(checked, GLOBAL_FAILURES as usize);
        // Known pairs are still checked.
        assert!(t.begin("analyst", "10.1.1.1", 2).is_ok());
    }

    #[test]
    fn the_tables_stay_bounded() {
        let t = Throttle::new(2);
        for i in 0..(MAX_ENTRIES + 5_000) {
            let _ = fail(
                &t,
                &format!("name-{i}"),
                &format!("s{}", i % 97),
                (i / 1000) as i64,
            );
        }
        for n in t.sizes() {
            assert!(n <= MAX_ENTRIES, "{n}");
        }
    }

    #[test]
    fn names_are_logged_as_a_short_prefix() {
        assert_eq!(log_name("analyst"), "ana…");
        assert_eq!(log_name("ab"), "ab");
        assert_eq!(log_name("パスワード123"), "パスワ…");
    }

    #[tokio::test]
    async fn checks_in_flight_and_waiting_are_bounded() {
        let t = Throttle::new(2);
        let a = t.verifier(false).await.unwrap();
        let _b = t.verifier(false).await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..MAX_WAITING {
            waiting.push(Box::pin(t.verifier(false)));
        }
        // Poll each once so it registers as waiting.
        for w in &mut waiting {
            assert!(futures_poll_once(w.as_mut()).await.is_none());
        }
        assert_eq!(t.verifier(false).await.err(), Some(Refusal::Busy));
        // A known pair is checked all the same.
        assert!(t.verifier(true).await.is_ok());
        drop(a);
        let got = waiting.remove(0).await;
        assert!(got.is_ok());
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
