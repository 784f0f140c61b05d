//! What the GPX and TCX readers share: a guard against hostile XML, the root-element sniff, and
//! time parsing. quick-xml never expands entities; we also refuse any DTD outright (no GPX or TCX
//! needs one, and the gpx crate's xml-rs would expand it) and cap the nesting depth.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::IngestError;

/// Deepest element nesting accepted; real GPX/TCX files stay under 10.
pub const MAX_DEPTH: usize = 64;

/// Refuses documents that declare a DTD or entities.
pub fn guard(bytes: &[u8]) -> Result<(), IngestError> {
    if contains(bytes, b"<!DOCTYPE") || contains(bytes, b"<!ENTITY") {
        return Err(IngestError::damaged(
            "the XML declares a DOCTYPE or entities, which no GPX or TCX file needs; refused as unsafe"
                .into(),
        ));
    }
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The local name of the document's root element, skipping a BOM, white space, the XML
/// declaration, comments and processing instructions. Looks at the first 64 KiB only.
#[must_use]
pub fn root_element(bytes: &[u8]) -> Option<String> {
    let mut b = &bytes[..bytes.len().min(64 * 1024)];
    b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    loop {
        let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
        b = &b[start..];
        if b.first() != Some(&b'<') {
            return None;
        }
        let skip_to = |b: &[u8], end: &[u8]| {
            b.windows(end.len())
                .position(|w| w == end)
                .map(|p| p + end.len())
        };
        if b.starts_with(b"<?") {
            b = &b[skip_to(b, b"?>")?..];
        } else if b.starts_with(b"<!--") {
            b = &b[skip_to(b, b"-->")?..];
        } else if b.starts_with(b"<!") {
            b = &b[skip_to(b, b">")?..];
        } else {
            let name: Vec<u8> = b[1..]
                .iter()
                .take_while(|c| !c.is_ascii_whitespace() && **c != b'>' && **c != b'/')
                .copied()
                .collect();
            let name = String::from_utf8(name).ok()?;
            let local = name.rsplit(':').next().unwrap_or(&name).to_string();
            return Some(local);
        }
    }
}

/// Parses an XML Schema dateTime; a time without a zone is taken as UTC (as GPX requires).
#[must_use]
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_of_documents() {
        assert_eq!(root_element(b"<gpx/>").as_deref(), Some("gpx"));
        assert_eq!(
            root_element(b"  <?xml ?>\n<!-- x --><a:TrainingCenterDatabase x='1'>").as_deref(),
            Some("TrainingCenterDatabase")
        );
        assert_eq!(root_element(b"hello"), None);
    }

    #[test]
    fn refuses_dtds() {
        assert!(guard(b"<?xml?><!DOCTYPE x [<!ENTITY a 'b'>]><gpx/>").is_err());
        assert!(guard(b"<gpx/>").is_ok());
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2014-01-17T09:33:11Z").map(|t| t.timestamp()),
            Some(1_389_951_191)
        );
        assert_eq!(
            parse_time("2014-01-17T09:33:11").map(|t| t.timestamp()),
            Some(1_389_951_191)
        );
        assert_eq!(
            parse_time("2014-01-17T10:33:11+01:00").map(|t| t.timestamp()),
            Some(1_389_951_191)
        );
        assert!(parse_time("yesterday").is_none());
    }
}
