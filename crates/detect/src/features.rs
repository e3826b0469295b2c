//! The behaviours the engine counts, per person and day, and the
//! indicators they report under.
//!
//! Rules:
//! - Each feature is a count per active day (a day the person did
//!   anything), or a size (pages, files, megabytes, recipients) on the
//!   days it is not zero; bytes are counted in megabytes.
//! - Every feature is judged against the person's own rate and their
//!   peers' (see `baseline`), never against a fixed number.
//! - A feature's weight says how much an unusual amount of it matters
//!   (taking company documents out matters more than visiting a job site);
//!   weights are configuration (`[detect.weights]`).

/// Which named indicator a finding reports under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Ind {
    Escalation,
    OutOfScope,
    NeedToKnow,
    Refusals,
    Volume,
    Rise,
    AbovePeers,
    Exfiltration,
    Recurrence,
    Sequence,
    Recipients,
    OtherHost,
    JobSearch,
    HackingTools,
    AfterHours,
    Leaving,
    Contact,
}

pub const N_IND: usize = 17;

impl Ind {
    pub const ALL: [Ind; N_IND] = [
        Ind::Escalation,
        Ind::OutOfScope,
        Ind::NeedToKnow,
        Ind::Refusals,
        Ind::Volume,
        Ind::Rise,
        Ind::AbovePeers,
        Ind::Exfiltration,
        Ind::Recurrence,
        Ind::Sequence,
        Ind::Recipients,
        Ind::OtherHost,
        Ind::JobSearch,
        Ind::HackingTools,
        Ind::AfterHours,
        Ind::Leaving,
        Ind::Contact,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Ind::Escalation => "escalation_outside_scope",
            Ind::OutOfScope => "outside_usual_scope",
            Ind::NeedToKnow => "need_to_know_violation",
            Ind::Refusals => "access_refused",
            Ind::Volume => "volume_above_baseline",
            Ind::Rise => "rise_in_own_rate",
            Ind::AbovePeers => "above_peers",
            Ind::Exfiltration => "exfiltration_channel",
            Ind::Recurrence => "repeated_exfiltration",
            Ind::Sequence => "gather_then_take_out",
            Ind::Recipients => "unfamiliar_recipients",
            Ind::OtherHost => "other_persons_host",
            Ind::JobSearch => "job_search",
            Ind::HackingTools => "hacking_tools",
            Ind::AfterHours => "after_hours",
            Ind::Leaving => "leaving_window",
            Ind::Contact => "approached_by_outsider",
        }
    }

    /// Findings that the context multipliers (after hours, leaving,
    /// approached) amplify: everything but the multipliers themselves.
    pub fn amplified(self) -> bool {
        !matches!(self, Ind::AfterHours | Ind::Leaving | Ind::Contact)
    }
}

/// One behaviour counted per person and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Feat {
    Downloads,
    Prints,
    Pages,
    NewDocs,
    OutsideLow,
    OutsideHigh,
    OutsideTaken,
    OutsideEvening,
    NeedToKnow,
    Refused,
    NewProjects,
    ForeignFocus,
    UsbConnects,
    UsbWrites,
    UsbFiles,
    UsbMegabytes,
    UsbDocs,
    UploadsOut,
    UploadMegabytes,
    MailPersonal,
    DocsOut,
    DocsExternal,
    NewDomains,
    FromPersonal,
    MailOutMegabytes,
    Recipients,
    OffHours,
    Weekend,
    OtherHosts,
    OwnedHosts,
    ManagerHost,
    WebJob,
    WebHacking,
    WebLeak,
    WebCloud,
    Sought,
}

pub const N_FEAT: usize = 36;

/// What a feature is called and how it reads.
pub struct FeatInfo {
    pub name: &'static str,
    pub ind: Ind,
    pub weight: f64,
    /// "{n} {what} in one day" / "in the last N days".
    pub what: &'static str,
    /// Counted in megabytes.
    pub megabytes: bool,
    /// A size (pages, files, megabytes, recipients), judged on a log scale
    /// against the person's usual size on the days they do it at all: how
    /// often is its companion count's business.
    pub size: bool,
}

const fn info(name: &'static str, ind: Ind, weight: f64, what: &'static str) -> FeatInfo {
    FeatInfo {
        name,
        ind,
        weight,
        what,
        megabytes: false,
        size: false,
    }
}

/// A size judged on a log scale (see [`FeatInfo::size`]).
const fn size(name: &'static str, ind: Ind, weight: f64, what: &'static str) -> FeatInfo {
    FeatInfo {
        size: true,
        ..info(name, ind, weight, what)
    }
}

/// A size counted in megabytes.
const fn mb(name: &'static str, ind: Ind, weight: f64, what: &'static str) -> FeatInfo {
    FeatInfo {
        megabytes: true,
        ..size(name, ind, weight, what)
    }
}

/// How many feature families there are ([`Feat::family`]).
pub const N_FAMILIES: usize = 6;

/// In [`Feat`]'s order.
pub const FEATURES: [FeatInfo; N_FEAT] = [
    info("downloads", Ind::Volume, 1.0, "downloads"),
    info("prints", Ind::Volume, 1.0, "documents printed"),
    size("pages", Ind::Volume, 0.8, "pages printed"),
    info(
        "new_documents",
        Ind::Volume,
        0.8,
        "documents never opened before",
    ),
    info(
        "outside_scope_low",
        Ind::OutOfScope,
        0.6,
        "public or internal documents outside their unit's scope",
    ),
    info(
        "outside_scope_high",
        Ind::OutOfScope,
        1.2,
        "confidential or secret documents outside their unit's scope",
    ),
    info(
        "outside_scope_taken",
        Ind::OutOfScope,
        1.5,
        "documents outside their unit's scope printed or downloaded",
    ),
    info(
        "outside_scope_evening",
        Ind::OutOfScope,
        2.0,
        "documents outside their unit's scope printed or downloaded at an hour they rarely work",
    ),
    info(
        "need_to_know",
        Ind::NeedToKnow,
        1.0,
        "documents opened without need to know or clearance",
    ),
    info("refused", Ind::Refusals, 0.8, "documents refused"),
    info(
        "new_projects",
        Ind::OutOfScope,
        0.5,
        "projects not theirs touched for the first time",
    ),
    info(
        "foreign_project_focus",
        Ind::OutOfScope,
        1.5,
        "further documents of a project not theirs they keep returning to",
    ),
    info(
        "usb_connects",
        Ind::Exfiltration,
        0.8,
        "removable media connected",
    ),
    info(
        "usb_writes",
        Ind::Exfiltration,
        0.8,
        "sessions of copying to USB",
    ),
    size("usb_files", Ind::Volume, 1.0, "files written to USB"),
    mb("usb_megabytes", Ind::Volume, 1.0, "written to USB"),
    info(
        "usb_documents",
        Ind::Exfiltration,
        1.5,
        "register documents written to USB",
    ),
    info(
        "uploads_out",
        Ind::Exfiltration,
        1.5,
        "uploads to consumer cloud, personal or leak sites",
    ),
    mb("upload_megabytes", Ind::Volume, 1.0, "uploaded"),
    info(
        "mail_to_personal",
        Ind::Exfiltration,
        0.8,
        "mails to personal addresses",
    ),
    info(
        "documents_out",
        Ind::Exfiltration,
        2.0,
        "register documents sent to personal mail or cloud",
    ),
    info(
        "documents_external",
        Ind::Exfiltration,
        1.0,
        "confidential or secret documents mailed outside",
    ),
    info(
        "new_domains",
        Ind::Recipients,
        0.6,
        "external domains mailed for the first time",
    ),
    info(
        "from_personal",
        Ind::Exfiltration,
        0.4,
        "mails sent from a personal account",
    ),
    mb(
        "mail_out_megabytes",
        Ind::Volume,
        1.0,
        "mailed outside as attachments",
    ),
    size("recipients", Ind::Recipients, 0.8, "mail recipients"),
    info(
        "off_hours",
        Ind::AfterHours,
        0.5,
        "hours active outside their usual hours",
    ),
    info("weekend", Ind::AfterHours, 0.3, "weekend days active"),
    info(
        "other_hosts",
        Ind::OtherHost,
        0.5,
        "logons to computers they do not use",
    ),
    info(
        "owned_hosts",
        Ind::OtherHost,
        1.0,
        "logons to another person's computer",
    ),
    info(
        "manager_host",
        Ind::OtherHost,
        2.0,
        "logons to their manager's computer",
    ),
    info("web_job", Ind::JobSearch, 0.5, "sessions on job sites"),
    info(
        "web_hacking",
        Ind::HackingTools,
        2.5,
        "sessions on keylogger or hacking-tool sites",
    ),
    info("web_leak", Ind::Exfiltration, 2.0, "sessions on leak sites"),
    info(
        "web_cloud",
        Ind::Exfiltration,
        0.3,
        "sessions on consumer cloud storage",
    ),
    info(
        "sought_outside_scope",
        Ind::OutOfScope,
        1.5,
        "confidential or secret documents of a project not theirs opened or tried right after a search",
    ),
];

/// The size features, in the order of their histograms.
pub const SIZES: [Feat; N_SIZE] = [
    Feat::Pages,
    Feat::UsbFiles,
    Feat::UsbMegabytes,
    Feat::UploadMegabytes,
    Feat::MailOutMegabytes,
    Feat::Recipients,
];
pub const N_SIZE: usize = 6;

impl Feat {
    /// Its histogram's place, for a size feature.
    pub fn size_slot(self) -> Option<usize> {
        SIZES.iter().position(|f| *f == self)
    }

    pub const ALL: [Feat; N_FEAT] = [
        Feat::Downloads,
        Feat::Prints,
        Feat::Pages,
        Feat::NewDocs,
        Feat::OutsideLow,
        Feat::OutsideHigh,
        Feat::OutsideTaken,
        Feat::OutsideEvening,
        Feat::NeedToKnow,
        Feat::Refused,
        Feat::NewProjects,
        Feat::ForeignFocus,
        Feat::UsbConnects,
        Feat::UsbWrites,
        Feat::UsbFiles,
        Feat::UsbMegabytes,
        Feat::UsbDocs,
        Feat::UploadsOut,
        Feat::UploadMegabytes,
        Feat::MailPersonal,
        Feat::DocsOut,
        Feat::DocsExternal,
        Feat::NewDomains,
        Feat::FromPersonal,
        Feat::MailOutMegabytes,
        Feat::Recipients,
        Feat::OffHours,
        Feat::Weekend,
        Feat::OtherHosts,
        Feat::OwnedHosts,
        Feat::ManagerHost,
        Feat::WebJob,
        Feat::WebHacking,
        Feat::WebLeak,
        Feat::WebCloud,
        Feat::Sought,
    ];

    pub fn info(self) -> &'static FeatInfo {
        &FEATURES[self as usize]
    }

    pub fn by_name(name: &str) -> Option<Feat> {
        Feat::ALL.into_iter().find(|f| f.info().name == name)
    }

    /// Taking something out of the company (what a gathering is followed
    /// by).
    pub fn takes_out(self) -> bool {
        matches!(
            self,
            Feat::UsbWrites
                | Feat::UsbFiles
                | Feat::UsbMegabytes
                | Feat::UsbDocs
                | Feat::UploadsOut
                | Feat::UploadMegabytes
                | Feat::DocsOut
                | Feat::DocsExternal
                | Feat::MailOutMegabytes
                | Feat::WebLeak
        )
    }

    /// Features that one behaviour moves together (a habit of USB shows as
    /// connects, copy sessions and documents copied; more reading as
    /// downloads, prints and new documents): a rise in them is one finding,
    /// not several. `None`: a family of its own.
    pub fn family(self) -> Option<usize> {
        use Feat::*;
        Some(match self {
            Downloads | Prints | NewDocs => 0,
            OutsideLow | OutsideHigh | OutsideTaken | OutsideEvening | NewProjects
            | ForeignFocus | Sought => 1,
            UsbConnects | UsbWrites | UsbDocs => 2,
            UploadsOut | MailPersonal | DocsOut | FromPersonal => 3,
            OtherHosts | OwnedHosts | ManagerHost => 4,
            OffHours | Weekend => 5,
            _ => return None,
        })
    }

    /// Gathering material (what taking out follows).
    pub fn gathers(self) -> bool {
        matches!(
            self,
            Feat::Downloads | Feat::Prints | Feat::Pages | Feat::NewDocs | Feat::OutsideTaken
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        for (i, f) in Feat::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(Feat::by_name(f.info().name), Some(*f));
        }
        for (i, d) in Ind::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for f in Feat::ALL {
            assert_eq!(f.info().size, f.size_slot().is_some(), "{}", f.info().name);
        }
        let mut names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_FEAT);
    }
}
