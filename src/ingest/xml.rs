//! What the GPX and TCX readers share: a guard against hostile XML, the root-element sniff,
//! time parsing, and the one streaming [`scan`] both readers drive (error positions, the depth
//! guard, truncation). quick-xml never expands entities; we also refuse any DTD outright (no GPX
//! or TCX needs one, and the gpx crate's xml-rs would expand it) and cap the nesting depth.

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Reader};

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

/// What a reader does with the elements the shared [`scan`] meets. `stack` holds the local
/// names of the open elements, outermost first.
pub trait Handler {
    /// An element opens; `stack` holds its ancestors (it is pushed after this returns).
    ///
    /// # Errors
    /// Whatever the reader refuses (too many points, ...); the scan stops with it.
    fn start(
        &mut self,
        ns: &ResolveResult<'_>,
        e: &BytesStart<'_>,
        stack: &[String],
    ) -> Result<(), IngestError>;

    /// A self-closing element (`<trkpt lat=".." lon=".."/>`); not pushed on the stack.
    ///
    /// # Errors
    /// Whatever the reader refuses; the scan stops with it.
    fn empty(&mut self, _e: &BytesStart<'_>) -> Result<(), IngestError> {
        Ok(())
    }

    /// Text inside the innermost open element (`stack`'s last).
    fn text(&mut self, text: &str, stack: &[String]);

    /// The element `local` closes; it is already popped from the stack.
    ///
    /// # Errors
    /// Whatever the reader refuses; the scan stops with it.
    fn end(&mut self, local: &str) -> Result<(), IngestError>;

    /// Something worth keeping was read: an XML error later on then keeps it, with a warning,
    /// instead of failing the file.
    fn has_data(&self) -> bool;
}

/// Resolve namespaces (GPX matches heart rate on the namespace URI) or not (TCX).
enum Source<'a> {
    Ns(NsReader<&'a [u8]>),
    Plain(Reader<&'a [u8]>),
}

impl<'a> Source<'a> {
    fn next<'b>(
        &mut self,
        buf: &'b mut Vec<u8>,
    ) -> quick_xml::Result<(ResolveResult<'_>, Event<'b>)> {
        match self {
            Self::Ns(r) => r.read_resolved_event_into(buf),
            Self::Plain(r) => r.read_event_into(buf).map(|e| (ResolveResult::Unbound, e)),
        }
    }

    fn position(&self) -> u64 {
        match self {
            Self::Ns(r) => r.buffer_position(),
            Self::Plain(r) => r.buffer_position(),
        }
    }
}

/// Streams a GPX or TCX document (`kind` names it in messages) through `h`: refuses nesting
/// deeper than [`MAX_DEPTH`], answers a document that ends inside an element as truncated, and
/// an XML error as damaged, or, once `h` has data, as a warning that keeps what came before.
///
/// # Errors
/// [`IngestError`] for unreadable, too deep or truncated XML, or whatever `h` refuses.
pub fn scan(
    bytes: &[u8],
    kind: &str,
    namespaces: bool,
    h: &mut impl Handler,
    warnings: &mut Vec<String>,
) -> Result<(), IngestError> {
    let mut reader = if namespaces {
        let mut r = NsReader::from_reader(bytes);
        r.config_mut().trim_text(true);
        Source::Ns(r)
    } else {
        let mut r = Reader::from_reader(bytes);
        r.config_mut().trim_text(true);
        Source::Plain(r)
    };
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    loop {
        let ev = match reader.next(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let at = reader.position();
                if !h.has_data() {
                    return Err(IngestError::damaged(format!(
                        "the {kind} is not readable XML (at byte {at}: {e})"
                    )));
                }
                warnings.push(format!(
                    "the {kind} stops being readable at byte {at} ({e}); kept the points before it"
                ));
                break;
            }
        };
        match ev {
            (ns, Event::Start(e)) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(IngestError::damaged(format!(
                        "the {kind} nests elements more than {MAX_DEPTH} deep; refused"
                    )));
                }
                h.start(&ns, &e, &stack)?;
                stack.push(e.local_name().as_ref().to_string());
            }
            (_, Event::Empty(e)) => h.empty(&e)?,
            (_, Event::Text(t)) => h.text(&t.xml10_content(), &stack),
            (_, Event::End(e)) => {
                stack.pop();
                h.end(e.local_name().as_ref())?;
            }
            (_, Event::Eof) => {
                if let Some(open) = stack.last() {
                    return Err(IngestError::truncated(format!(
                        "the {kind} ends inside <{open}>: the copy may still be running, or the file is cut short"
                    )));
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
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
    use crate::ingest::FailureKind;

    /// Records what the scan hands over; "data" once a `<p>` closed.
    #[derive(Default)]
    struct Log {
        seen: Vec<String>,
        points: usize,
    }

    impl Handler for Log {
        fn start(
            &mut self,
            _ns: &ResolveResult<'_>,
            e: &BytesStart<'_>,
            stack: &[String],
        ) -> Result<(), IngestError> {
            let name = e.local_name().as_ref().to_string();
            self.seen.push(format!("{}<{name}", stack.len()));
            Ok(())
        }
        fn text(&mut self, text: &str, stack: &[String]) {
            self.seen.push(format!("{}:{text}", stack.join("/")));
        }
        fn end(&mut self, local: &str) -> Result<(), IngestError> {
            self.points += usize::from(local == "p");
            Ok(())
        }
        fn has_data(&self) -> bool {
            self.points > 0
        }
    }

    fn run(doc: &str) -> (Result<(), IngestError>, Log, Vec<String>) {
        let (mut log, mut warnings) = (Log::default(), Vec::new());
        let r = scan(doc.as_bytes(), "GPX", true, &mut log, &mut warnings);
        (r, log, warnings)
    }

    #[test]
    fn scan_hands_elements_and_text_with_their_stack() {
        let (r, log, w) = run("<a><b>x</b><p/></a>");
        assert!(r.is_ok() && w.is_empty());
        assert_eq!(log.seen, ["0<a", "1<b", "a/b:x"]);
    }

    #[test]
    fn scan_refuses_deep_nesting_and_answers_truncation() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = run(&deep).0.unwrap_err();
        assert_eq!(e.kind, FailureKind::Damaged);
        assert!(
            e.message.contains("nests elements more than 64 deep"),
            "{}",
            e.message
        );
        let e = run("<a><p></p><b>").0.unwrap_err();
        assert_eq!(e.kind, FailureKind::Truncated);
        assert!(e.message.contains("ends inside <b>"), "{}", e.message);
    }

    #[test]
    fn scan_keeps_what_came_before_an_error_once_it_has_data() {
        let e = run("<a></b>").0.unwrap_err();
        assert_eq!(e.kind, FailureKind::Damaged);
        assert!(
            e.message.contains("the GPX is not readable XML (at byte"),
            "{}",
            e.message
        );
        let (r, log, w) = run("<a><p></p></b>");
        assert!(r.is_ok());
        assert_eq!(log.points, 1);
        assert!(
            w[0].starts_with("the GPX stops being readable at byte"),
            "{w:?}"
        );
    }

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
