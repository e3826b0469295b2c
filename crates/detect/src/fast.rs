//! Reading `events.jsonl` lines straight into the engine's compact form,
//! without building a [`custodian_core::Event`]: strings stay borrowed from
//! the line, names become indexes.
//!
//! This path only accepts what [`custodian_core::interchange::parse_event`]
//! accepts. Anything it is unsure of (an escaped string, a timestamp in an
//! unusual spelling, a missing field) it hands back, and the caller parses
//! the line the ordinary way, which accepts it or explains why not. A
//! property test checks the two agree.

use crate::{Ev, EvOf, Kind, Names, NONE};

/// The defined fields of one line, borrowed from it.
#[derive(Default)]
struct Raw<'a> {
    id: Option<&'a str>,
    ts: Option<&'a str>,
    user: Option<&'a str>,
    action: Option<&'a str>,
    query: Option<&'a str>,
    doc: Option<&'a str>,
    bytes: Option<u64>,
    pages: Option<u64>,
    files: Option<u64>,
    to_domain: Option<&'a str>,
    external: Option<bool>,
    attachments: Option<u64>,
    domain: Option<&'a str>,
    host: Option<&'a str>,
    url: Option<&'a str>,
    from_domain: Option<&'a str>,
    recipients: Option<u64>,
}

/// A JSON value as the scanner met it.
enum Val<'a> {
    Str(&'a str),
    Num(u64),
    Bool(bool),
    Null,
}

/// Scans one flat JSON object: string keys; values that are strings
/// without escapes, non-negative integers, booleans or null. Anything else
/// (escapes, nested values, fractions, a repeated defined key, bad syntax)
/// returns `None` and the line goes to the ordinary parser, which is
/// complete. This is the hot loop of `custodian detect`; serde_json spends
/// most of its time on generality these lines do not need.
fn scan(line: &str) -> Option<Raw<'_>> {
    let b = line.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\r' | b'\n') {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Option<&str> {
        // At the opening quote.
        let start = *i + 1;
        let len = memchr::memchr(b'"', &b[start..])?;
        let s = &b[start..start + len];
        if s.iter().any(|&c| c == b'\\' || c < 0x20) {
            return None;
        }
        *i = start + len + 1;
        line.get(start..start + len)
    };
    let mut raw = Raw::default();
    let mut seen = 0u32;
    // Extension fields seen (a key has no escapes here, so its bytes are
    // its name): one given twice makes the line ambiguous, which the
    // ordinary parser refuses; more than a few are its to read too.
    let mut others = [""; 8];
    let mut n_others = 0;
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key = string(&mut i)?;
            ws(&mut i);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i += 1;
            ws(&mut i);
            let val = match *b.get(i)? {
                b'"' => Val::Str(string(&mut i)?),
                b'0'..=b'9' => {
                    let start = i;
                    let mut v: u64 = 0;
                    while i < b.len() && b[i].is_ascii_digit() {
                        v = v.checked_mul(10)?.checked_add(u64::from(b[i] - b'0'))?;
                        i += 1;
                    }
                    // JSON forbids leading zeros; fractions and exponents
                    // are for the ordinary parser.
                    if (b[start] == b'0' && i - start > 1)
                        || matches!(b.get(i), Some(b'.' | b'e' | b'E'))
                    {
                        return None;
                    }
                    Val::Num(v)
                }
                b't' if b[i..].starts_with(b"true") => {
                    i += 4;
                    Val::Bool(true)
                }
                b'f' if b[i..].starts_with(b"false") => {
                    i += 5;
                    Val::Bool(false)
                }
                b'n' if b[i..].starts_with(b"null") => {
                    i += 4;
                    Val::Null
                }
                _ => return None,
            };
            let slot = match key {
                "id" => 0,
                "ts" => 1,
                "user" => 2,
                "action" => 3,
                "host" => 4,
                "query" => 5,
                "doc" => 6,
                "bytes" => 7,
                "pages" => 8,
                "files" => 9,
                "to_domain" => 10,
                "external" => 11,
                "attachments" => 12,
                "domain" => 13,
                "url" => 14,
                "from_domain" => 15,
                "recipients" => 16,
                _ => 17,
            };
            if slot == 17 {
                if n_others == others.len() || others[..n_others].contains(&key) {
                    return None;
                }
                others[n_others] = key;
                n_others += 1;
            } else {
                if seen & (1 << slot) != 0 {
                    return None;
                }
                seen |= 1 << slot;
                match (slot, &val) {
                    (_, Val::Null) => {}
                    (0, Val::Str(v)) => raw.id = Some(v),
                    (1, Val::Str(v)) => raw.ts = Some(v),
                    (2, Val::Str(v)) => raw.user = Some(v),
                    (3, Val::Str(v)) => raw.action = Some(v),
                    (4, Val::Str(v)) => raw.host = Some(v),
                    (14, Val::Str(v)) => raw.url = Some(v),
                    (15, Val::Str(v)) => raw.from_domain = Some(v),
                    (16, Val::Num(n)) => raw.recipients = Some(*n),
                    (5, Val::Str(v)) => raw.query = Some(v),
                    (6, Val::Str(v)) => raw.doc = Some(v),
                    (7, Val::Num(n)) => raw.bytes = Some(*n),
                    (8, Val::Num(n)) => raw.pages = Some(*n),
                    (9, Val::Num(n)) => raw.files = Some(*n),
                    (10, Val::Str(v)) => raw.to_domain = Some(v),
                    (11, Val::Bool(x)) => raw.external = Some(*x),
                    (12, Val::Num(n)) => raw.attachments = Some(*n),
                    (13, Val::Str(v)) => raw.domain = Some(v),
                    // A defined field of the wrong type: the ordinary
                    // parser names it.
                    _ => return None,
                }
            }
            ws(&mut i);
            match b.get(i)? {
                b',' => {
                    i += 1;
                    ws(&mut i);
                }
                b'}' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut i);
    // An implausible count is the ordinary parser's to reject, naming it.
    if custodian_core::interchange::implausible_count([
        raw.bytes,
        raw.pages,
        raw.files,
        raw.attachments,
        raw.recipients,
    ])
    .is_some()
    {
        return None;
    }
    (i == b.len()).then_some(raw)
}

/// An event in compact form whose strings are byte ranges of the buffer it
/// was read from, so it can cross threads and be sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    /// [`crate::id_hash`] of the id: the tie-break of the engine's order.
    pub idh: u64,
    /// The event, its strings as (offset, length) in the buffer.
    pub ev: EvOf<(u32, u32)>,
}

fn slice(buf: &str, r: (u32, u32)) -> &str {
    let (a, n) = (r.0 as usize, r.1 as usize);
    buf.get(a..a + n).unwrap_or("")
}

impl Packed {
    /// The event, with its strings borrowed from `buf` (the buffer the
    /// offsets were taken in).
    pub fn ev<'a>(&self, buf: &'a str) -> Ev<'a> {
        self.ev.map_str(|r| slice(buf, r))
    }

    /// The string ranges, for moving them into another buffer.
    pub fn ranges_mut(&mut self) -> [&mut (u32, u32); 5] {
        let e = &mut self.ev;
        [
            &mut e.id,
            &mut e.domain,
            &mut e.host,
            &mut e.url,
            &mut e.from_domain,
        ]
    }

    /// Sort key: data time, then the id's hash.
    pub fn key(&self) -> (i64, u64) {
        (self.ev.ts_us, self.idh)
    }

    /// The id, from the buffer the offsets were taken in.
    pub fn id<'a>(&self, buf: &'a str) -> &'a str {
        slice(buf, self.ev.id)
    }
}

/// Why the fast path handed a line back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Parse it the ordinary way (it may still be good).
    Ordinary,
    /// A good line whose user is not in the directory.
    UnknownUser,
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|v| match v.as_bytes().first() {
        None => false,
        Some(b) if !b.is_ascii_whitespace() => true,
        Some(_) => !v.trim().is_empty(),
    })
}

/// Parses one line that starts at `base` in `buf`.
/// `line` must be a part of `buf`: offsets are taken in `buf`. Both are
/// text already checked to be UTF-8 (a block at a time is much cheaper
/// than a string at a time).
pub fn parse_line(buf: &str, line: &str, names: &Names) -> Result<Packed, Fallback> {
    let raw = scan(line).ok_or(Fallback::Ordinary)?;
    let range = |s: &str| -> (u32, u32) {
        let off = s.as_ptr() as usize - buf.as_ptr() as usize;
        (off as u32, s.len() as u32)
    };
    let id = nonempty(raw.id).ok_or(Fallback::Ordinary)?;
    if id.len() > custodian_core::interchange::MAX_ID_LEN {
        return Err(Fallback::Ordinary);
    }
    let (ts_us, offset_s) = parse_rfc3339(nonempty(raw.ts).ok_or(Fallback::Ordinary)?.trim())
        .ok_or(Fallback::Ordinary)?;
    let user_s = nonempty(raw.user).ok_or(Fallback::Ordinary)?;
    let action = nonempty(raw.action).ok_or(Fallback::Ordinary)?;
    let mut p = EvOf::new(range(id), ts_us, NONE, Kind::Other);
    p.offset_s = offset_s;
    p.host = raw.host.filter(|h| !h.is_empty()).map_or((0, 0), range);
    let need_doc = || nonempty(raw.doc).ok_or(Fallback::Ordinary);
    let opt_doc = || {
        raw.doc
            .filter(|d| !d.is_empty())
            .map_or(NONE, |d| names.doc(d))
    };
    let need = |v: Option<u64>| v.ok_or(Fallback::Ordinary);
    match action {
        "logon" => p.kind = Kind::Logon,
        "logoff" => p.kind = Kind::Logoff,
        "doc.search" => {
            raw.query.ok_or(Fallback::Ordinary)?;
            p.kind = Kind::Search;
        }
        "doc.view" | "doc.download" => {
            p.kind = if action == "doc.view" {
                Kind::View
            } else {
                Kind::Download
            };
            p.doc = names.doc(need_doc()?);
            p.bytes = raw.bytes.unwrap_or(0);
        }
        "doc.print" => {
            p.kind = Kind::Print;
            p.doc = names.doc(need_doc()?);
            p.pages = need(raw.pages)?;
        }
        "doc.denied" | "briefing" => {
            p.kind = if action == "briefing" {
                Kind::Briefing
            } else {
                Kind::Denied
            };
            p.doc = names.doc(need_doc()?);
        }
        "usb.write" => {
            p.kind = Kind::Usb;
            p.bytes = need(raw.bytes)?;
            p.files = need(raw.files)?;
            p.doc = opt_doc();
        }
        "email.send" => {
            p.kind = Kind::Mail;
            p.domain = range(nonempty(raw.to_domain).ok_or(Fallback::Ordinary)?);
            p.external = raw.external.ok_or(Fallback::Ordinary)?;
            p.bytes = need(raw.bytes)?;
            p.attachments = need(raw.attachments)?;
            p.doc = opt_doc();
            p.from_domain = raw
                .from_domain
                .filter(|d| !d.is_empty())
                .map_or((0, 0), range);
            p.recipients = raw.recipients.unwrap_or(0);
        }
        "web.upload" => {
            p.kind = Kind::Upload;
            p.domain = range(nonempty(raw.domain).ok_or(Fallback::Ordinary)?);
            p.bytes = need(raw.bytes)?;
            p.doc = opt_doc();
        }
        "web.visit" => {
            p.kind = Kind::Visit;
            p.domain = range(nonempty(raw.domain).ok_or(Fallback::Ordinary)?);
            p.url = raw.url.filter(|u| !u.is_empty()).map_or((0, 0), range);
        }
        "print.job" => {
            p.kind = Kind::PrintJob;
            p.pages = need(raw.pages)?;
            p.doc = opt_doc();
        }
        "device.connect" => p.kind = Kind::DeviceConnect,
        _ => p.kind = Kind::Other,
    }
    p.user = names.user(user_s);
    if p.user == NONE {
        return Err(Fallback::UnknownUser);
    }
    Ok(Packed {
        idh: crate::id_hash(id),
        ev: p,
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to UTC microseconds and the
/// offset in seconds; the fraction is truncated to microseconds, as the
/// ordinary parser does. Other spellings return `None`.
pub fn parse_rfc3339(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let y = i64::from(digits(&b[0..4])?);
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let sec = digits(&b[17..19])?;
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_s: i32 = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(&b[i + 1..i + 3])?;
            let om = digits(&b[i + 4..i + 6])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let v = (oh * 3600 + om * 60) as i32;
            if *c == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let local = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    Some(((local - i64::from(offset_s)) * 1_000_000 + micros, offset_s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn implausible_counts_go_to_the_ordinary_parser() {
        let ok = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"usb.write","bytes":5,"files":1}"#;
        assert!(scan(ok).is_some());
        let huge = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"usb.write","bytes":9223372036854775808,"files":1}"#;
        assert!(scan(huge).is_none());
    }

    #[test]
    fn a_field_given_twice_goes_to_the_ordinary_parser() {
        // Found by fuzzing: the ordinary parser refuses a line that gives
        // a field twice, so the scanner must not read it either way.
        let once = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"logon","x_a":1,"x_b":"b"}"#;
        assert!(scan(once).is_some());
        for twice in [
            r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"logon","x_a":1,"x_a":2}"#,
            r#"{"id":"x","":"a","ts":"2024-04-01T09:00:00Z","user":"E1","action":"logon","":"b"}"#,
            r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"logon","user":"E2"}"#,
        ] {
            assert!(scan(twice).is_none(), "{twice}");
        }
    }

    #[test]
    fn timestamps_agree_with_chrono() {
        for s in [
            "2025-04-01T09:00:00+09:00",
            "2025-04-01T09:00:00.123456789+09:00",
            "2024-02-29T23:59:59.5Z",
            "1999-12-31T15:00:00-05:30",
        ] {
            let c = custodian_core::interchange::parse_ts(s, "ts").unwrap();
            assert_eq!(
                parse_rfc3339(s),
                Some((c.timestamp_micros(), c.offset().local_minus_utc())),
                "{s}"
            );
        }
        for s in [
            "2025-02-29T09:00:00Z",
            "2025-04-01 09:00:00Z",
            "2025-04-01T09:00:00",
            "2025-04-01T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn any_valid_time_round_trips(secs in -2_000_000_000i64..4_000_000_000, us in 0i64..1_000_000, off in -86_399i32/60..86_399/60) {
            let off = off * 60;
            let tz = chrono::FixedOffset::east_opt(off).unwrap();
            let t = chrono::DateTime::from_timestamp(secs, (us * 1000) as u32).unwrap().with_timezone(&tz);
            let s = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            prop_assert_eq!(parse_rfc3339(&s), Some((t.timestamp_micros(), off)));
        }
    }
}
