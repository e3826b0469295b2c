//! One CERT r4.2 row into the interchange form, as the release notes
//! describe each file: logons and device connects with their PC, file
//! copies (the content is a header and keywords, not a size), mail with its
//! sender and recipients (personal addresses, ISP mail), web visits by the
//! URL's topic.

use super::*;

pub(super) fn address_domain(a: &str) -> Option<String> {
    a.trim()
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('>').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

pub(super) fn convert(
    kind: Kind,
    cols: &Columns,
    rec: &CsvRecord,
    offset: FixedOffset,
    company: &str,
) -> Result<Event, String> {
    let get = |name: &str| -> &str { column(cols, name).map_or("", |c| cols.get(rec, &c)) };
    let need = |name: &str| {
        Some(get(name))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("field `{name}`: missing"))
    };
    let id = need("id")?;
    let date = need("date")?;
    let ts = parse_cert_date(date)
        .map(|t| at_offset(t, offset))
        .ok_or_else(|| {
            format!(
                "field `date`: expected MM/DD/YYYY HH:MM:SS, found '{}'",
                date.chars().take(40).collect::<String>()
            )
        })?;
    let user = need("user")?;
    let user = user.rsplit(['/', '\\']).next().unwrap_or(user).to_string();
    let mut extra = serde_json::Map::new();
    let action = match kind {
        Kind::Logon => match need("activity")?.to_ascii_lowercase().as_str() {
            "logon" => Action::Logon,
            "logoff" => Action::Logoff,
            other => Action::Other {
                name: format!("logon.{other}"),
            },
        },
        Kind::Device => Action::Other {
            name: format!("device.{}", need("activity")?.to_ascii_lowercase()),
        },
        Kind::File => {
            let name = get("filename");
            if !name.is_empty() {
                extra.insert(
                    "filename".into(),
                    serde_json::Value::from(name.chars().take(512).collect::<String>()),
                );
            }
            // `content` is a file header and keywords, not the file: its
            // length is not the size copied.
            Action::UsbWrite {
                bytes: 0,
                files: 1,
                doc: None,
            }
        }
        Kind::Email => {
            let recipients: Vec<String> = ["to", "cc", "bcc"]
                .iter()
                .flat_map(|c| get(c).split(';'))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            let domains: Vec<String> = recipients
                .iter()
                .filter_map(|a| address_domain(a))
                .collect();
            let outside = domains.iter().find(|d| d.as_str() != company);
            let size = get("size");
            let bytes = if size.is_empty() {
                0
            } else {
                size.parse::<u64>().map_err(|_| {
                    format!(
                        "field `size`: expected a number, found '{}'",
                        size.chars().take(40).collect::<String>()
                    )
                })?
            };
            let att = get("attachments");
            let attachments = att.parse::<u64>().unwrap_or_else(|_| {
                // Later releases list the attachments' names.
                att.split(';').filter(|s| !s.trim().is_empty()).count() as u64
            });
            let from_domain = address_domain(get("from")).filter(|d| d.as_str() != company);
            Action::EmailSend {
                to_domain: outside.or(domains.first()).cloned().unwrap_or_default(),
                external: outside.is_some(),
                bytes,
                attachments,
                doc: None,
                from_domain,
                recipients: Some(recipients.len() as u64),
            }
        }
        Kind::Http => {
            let url = need("url")?;
            let host = url
                .split_once("://")
                .map_or(url, |(_, r)| r)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            Action::WebVisit {
                domain: host,
                url: Some(url.chars().take(2048).collect()),
            }
        }
    };
    if let Action::EmailSend { to_domain, .. } = &action {
        if to_domain.is_empty() {
            return Err("field `to`: no recipient address".into());
        }
    }
    Ok(Event {
        id: format!("{}-{id}", kind.prefix()),
        ts,
        user,
        host: Some(get("pc").to_string()).filter(|p| !p.is_empty()),
        action,
        extra,
    })
}
