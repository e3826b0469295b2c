//! What a domain or a URL is: personal mail, consumer cloud, a leak site,
//! a job site, a hacking tool.
//!
//! Rules:
//! - A domain is in a list when it or one of its parent domains is
//!   (`mail.gmail.com` is `gmail.com`); case does not matter; a leading
//!   `www.` is ignored.
//! - A URL whose domain is in no list is judged by its words: a keyword
//!   anywhere in it, case-insensitively (`/jobs/apply`, `keylogger.exe`).
//! - Answers for domains are remembered (at most [`CACHE_MAX`] of them),
//!   so a proxy log's millions of visits cost one lookup each.

use memchr::memmem::Finder;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::config::Domains;

/// A domain's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    None,
    Personal,
    Cloud,
    Leak,
    Job,
    Hacking,
}

pub const CACHE_MAX: usize = 200_000;

#[derive(Clone)]
pub struct Web {
    personal: FxHashSet<String>,
    cloud: FxHashSet<String>,
    leak: FxHashSet<String>,
    job: FxHashSet<String>,
    hacking: FxHashSet<String>,
    keywords: Vec<(Finder<'static>, Category)>,
    cache: FxHashMap<Box<str>, Category>,
}

fn lower(v: &[String]) -> FxHashSet<String> {
    v.iter()
        .map(|s| s.trim().trim_start_matches("www.").to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Web {
    pub fn new(d: &Domains) -> Web {
        let mut keywords = Vec::new();
        for (list, cat) in [
            (&d.leak_keywords, Category::Leak),
            (&d.hacking_keywords, Category::Hacking),
            (&d.job_keywords, Category::Job),
        ] {
            for k in list {
                let k = k.trim().to_ascii_lowercase();
                if !k.is_empty() {
                    keywords.push((Finder::new(k.as_bytes()).into_owned(), cat));
                }
            }
        }
        Web {
            personal: lower(&d.personal),
            cloud: lower(&d.cloud),
            leak: lower(&d.leak),
            job: lower(&d.job),
            hacking: lower(&d.hacking),
            keywords,
            cache: FxHashMap::default(),
        }
    }

    /// No lists at all: what a restored engine holds until it is given the
    /// configuration's (see `Engine::restore`).
    pub fn empty() -> Web {
        Web {
            personal: FxHashSet::default(),
            cloud: FxHashSet::default(),
            leak: FxHashSet::default(),
            job: FxHashSet::default(),
            hacking: FxHashSet::default(),
            keywords: Vec::new(),
            cache: FxHashMap::default(),
        }
    }

    fn in_set(set: &FxHashSet<String>, domain: &str) -> bool {
        let mut rest = domain;
        loop {
            if set.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, r)) if r.contains('.') => rest = r,
                _ => return false,
            }
        }
    }

    fn lookup(&self, domain: &str) -> Category {
        let d = domain.trim().trim_end_matches('.');
        let owned;
        let d = if d.bytes().any(|b| b.is_ascii_uppercase()) {
            owned = d.to_ascii_lowercase();
            owned.as_str()
        } else {
            d
        };
        let d = d.trim_start_matches("www.");
        if Self::in_set(&self.leak, d) {
            Category::Leak
        } else if Self::in_set(&self.hacking, d) {
            Category::Hacking
        } else if Self::in_set(&self.personal, d) {
            Category::Personal
        } else if Self::in_set(&self.cloud, d) {
            Category::Cloud
        } else if Self::in_set(&self.job, d) {
            Category::Job
        } else {
            Category::None
        }
    }

    /// The category of a domain (remembered).
    pub fn domain(&mut self, domain: &str) -> Category {
        if domain.is_empty() {
            return Category::None;
        }
        if let Some(c) = self.cache.get(domain) {
            return *c;
        }
        let c = self.lookup(domain);
        if self.cache.len() < CACHE_MAX {
            self.cache.insert(domain.into(), c);
        }
        c
    }

    /// The category of a visit: its domain's, else its URL's words.
    pub fn visit(&mut self, domain: &str, url: &str) -> Category {
        let c = self.domain(domain);
        if c != Category::None || url.is_empty() {
            return c;
        }
        let bytes = url.as_bytes();
        let lowered;
        let hay: &[u8] = if bytes.iter().any(u8::is_ascii_uppercase) {
            lowered = url.to_ascii_lowercase();
            lowered.as_bytes()
        } else {
            bytes
        };
        self.keywords
            .iter()
            .find(|(f, _)| f.find(hay).is_some())
            .map_or(Category::None, |(_, c)| *c)
    }

    pub fn is_personal(&mut self, domain: &str) -> bool {
        self.domain(domain) == Category::Personal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_urls_are_categorised() {
        let mut w = Web::new(&Domains::default());
        assert_eq!(w.domain("mail.gmail.com"), Category::Personal);
        assert_eq!(w.domain("GMAIL.COM"), Category::Personal);
        assert_eq!(w.domain("bellsouth.net"), Category::Personal);
        assert_eq!(w.domain("www.dropbox.com"), Category::Cloud);
        assert_eq!(w.domain("wikileaks.org"), Category::Leak);
        assert_eq!(w.domain("www.monster.com"), Category::Job);
        assert_eq!(w.domain("customer-a.co.jp"), Category::None);
        assert_eq!(w.domain("com"), Category::None);
        assert_eq!(
            w.visit(
                "softdl.example.net",
                "http://softdl.example.net/Free-KeyLogger.exe"
            ),
            Category::Hacking
        );
        assert_eq!(
            w.visit("example.org", "https://example.org/careers/apply"),
            Category::Job
        );
        assert_eq!(
            w.visit("example.org", "https://example.org/"),
            Category::None
        );
    }
}
