//! The engine's input: an event in compact form, with names already
//! resolved to indexes and strings borrowed from wherever it was read.

use rustc_hash::FxHashMap;

use custodian_core::{Action, Event};

/// What an event does, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Logon,
    Logoff,
    Search,
    View,
    Download,
    Print,
    Denied,
    Usb,
    Mail,
    Upload,
    Visit,
    PrintJob,
    Briefing,
    /// `device.connect` (removable media plugged in; CERT's device.csv,
    /// Windows event 6416).
    DeviceConnect,
    Other,
}

/// No such user or document.
pub const NONE: u32 = u32::MAX;

/// One event in the engine's compact form, its strings borrowed.
pub type Ev<'a> = EvOf<&'a str>;

/// One event in the engine's compact form, its strings as `S`: borrowed
/// (`&str`, [`Ev`]) or as byte ranges of a buffer
/// ([`crate::fast::Packed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvOf<S> {
    pub id: S,
    /// UTC microseconds.
    pub ts_us: i64,
    /// The event's own UTC offset in seconds (its local time of day).
    pub offset_s: i32,
    pub user: u32,
    pub kind: Kind,
    pub doc: u32,
    /// Bytes (downloads, USB, mail, uploads).
    pub bytes: u64,
    pub pages: u64,
    /// Files written (USB).
    pub files: u64,
    pub attachments: u64,
    pub external: bool,
    /// Mail's `to_domain`, an upload's or visit's `domain`.
    pub domain: S,
    /// The computer, when the source says.
    pub host: S,
    /// A visit's URL.
    pub url: S,
    /// Mail sent from a personal account: its domain.
    pub from_domain: S,
    /// Mail recipients, when the source says (0: unknown).
    pub recipients: u64,
}

impl<S> EvOf<S> {
    /// The same event with every string mapped by `f`.
    #[inline]
    pub fn map_str<T>(self, mut f: impl FnMut(S) -> T) -> EvOf<T> {
        EvOf {
            id: f(self.id),
            ts_us: self.ts_us,
            offset_s: self.offset_s,
            user: self.user,
            kind: self.kind,
            doc: self.doc,
            bytes: self.bytes,
            pages: self.pages,
            files: self.files,
            attachments: self.attachments,
            external: self.external,
            domain: f(self.domain),
            host: f(self.host),
            url: f(self.url),
            from_domain: f(self.from_domain),
            recipients: self.recipients,
        }
    }
}

impl<S: Default> EvOf<S> {
    /// An event of `kind` with every other field empty.
    pub fn new(id: S, ts_us: i64, user: u32, kind: Kind) -> EvOf<S> {
        EvOf {
            id,
            ts_us,
            offset_s: 0,
            user,
            kind,
            doc: NONE,
            bytes: 0,
            pages: 0,
            files: 0,
            attachments: 0,
            external: false,
            domain: S::default(),
            host: S::default(),
            url: S::default(),
            from_domain: S::default(),
            recipients: 0,
        }
    }
}

/// Resolves user and document ids to the engine's indexes; shared with
/// parser threads.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Names {
    pub(crate) users: FxHashMap<String, u32>,
    pub(crate) docs: FxHashMap<String, u32>,
}

impl Names {
    pub fn user(&self, id: &str) -> u32 {
        self.users.get(id).copied().unwrap_or(NONE)
    }
    pub fn doc(&self, id: &str) -> u32 {
        self.docs.get(id).copied().unwrap_or(NONE)
    }

    /// The compact form of a parsed event (`user` is [`NONE`] when unknown).
    pub fn compact<'a>(&self, e: &'a Event) -> Ev<'a> {
        let mut ev = Ev::new(
            &e.id,
            e.ts.timestamp_micros(),
            self.user(&e.user),
            Kind::Other,
        );
        ev.offset_s = e.ts.offset().local_minus_utc();
        ev.host = e.host.as_deref().unwrap_or("");
        let doc = |d: &str| self.doc(d);
        match &e.action {
            Action::Logon => ev.kind = Kind::Logon,
            Action::Logoff => ev.kind = Kind::Logoff,
            Action::DocSearch { .. } => ev.kind = Kind::Search,
            Action::DocView { doc: d, bytes } => {
                ev.kind = Kind::View;
                ev.doc = doc(d);
                ev.bytes = bytes.unwrap_or(0);
            }
            Action::DocDownload { doc: d, bytes } => {
                ev.kind = Kind::Download;
                ev.doc = doc(d);
                ev.bytes = bytes.unwrap_or(0);
            }
            Action::DocPrint { doc: d, pages } => {
                ev.kind = Kind::Print;
                ev.doc = doc(d);
                ev.pages = *pages;
            }
            Action::DocDenied { doc: d } => {
                ev.kind = Kind::Denied;
                ev.doc = doc(d);
            }
            Action::UsbWrite {
                bytes,
                files,
                doc: d,
            } => {
                ev.kind = Kind::Usb;
                ev.bytes = *bytes;
                ev.files = *files;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::EmailSend {
                to_domain,
                external,
                bytes,
                attachments,
                doc: d,
                from_domain,
                recipients,
            } => {
                ev.kind = Kind::Mail;
                ev.domain = to_domain;
                ev.external = *external;
                ev.bytes = *bytes;
                ev.attachments = *attachments;
                ev.doc = d.as_deref().map_or(NONE, doc);
                ev.from_domain = from_domain.as_deref().unwrap_or("");
                ev.recipients = recipients.unwrap_or(0);
            }
            Action::WebUpload {
                domain,
                bytes,
                doc: d,
            } => {
                ev.kind = Kind::Upload;
                ev.domain = domain;
                ev.bytes = *bytes;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::WebVisit { domain, url } => {
                ev.kind = Kind::Visit;
                ev.domain = domain;
                ev.url = url.as_deref().unwrap_or("");
            }
            Action::PrintJob { pages, doc: d } => {
                ev.kind = Kind::PrintJob;
                ev.pages = *pages;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::Briefing { doc: d } => {
                ev.kind = Kind::Briefing;
                ev.doc = doc(d);
            }
            Action::Other { name } => {
                ev.kind = if name == "device.connect" {
                    Kind::DeviceConnect
                } else {
                    Kind::Other
                };
            }
        }
        ev
    }
}
