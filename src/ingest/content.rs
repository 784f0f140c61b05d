//! Content of any supported kind to an activity: sniffed by its bytes, gzip opened
//! transparently (bounded by the size limit: a gzip bomb is refused), a zip refused here (its
//! members are read one by one by the pipeline's queue).

use std::io::Read as _;

use super::{FailureKind, IngestError, Limits, Parsed, Sniffed};

/// Parses content, opening gzip transparently (bounded by the size limit).
///
/// # Errors
/// [`IngestError`].
pub fn parse_content(bytes: &[u8], limits: Limits) -> Result<Parsed, IngestError> {
    match super::sniff(bytes) {
        Sniffed::Gzip => {
            let inner = gunzip(bytes, limits)?;
            if matches!(super::sniff(&inner), Sniffed::Gzip | Sniffed::Zip) {
                return Err(IngestError {
                    kind: FailureKind::Damaged,
                    message: "a compressed file inside a compressed file is not an activity".into(),
                });
            }
            super::read_bytes(&inner)
        }
        Sniffed::Zip => Err(IngestError {
            kind: FailureKind::Damaged,
            message: "zip archives are read by `recoverd import`, member by member".into(),
        }),
        _ => super::read_bytes(bytes),
    }
}

/// Decompresses gzip, refusing output past the size limit (a gzip bomb).
///
/// # Errors
/// [`IngestError`] when damaged or too large.
pub fn gunzip(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError {
            kind: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FailureKind::Truncated
            } else {
                FailureKind::Damaged
            },
            message: format!("the gzip data is damaged or cut short: {e}"),
        })?;
    if out.len() as u64 > limits.max_file_bytes {
        return Err(IngestError {
            kind: FailureKind::TooLarge,
            message: format!(
                "the gzip data expands past the {} MB limit (max_file_mb); refused",
                limits.max_file_bytes / (1024 * 1024)
            ),
        });
    }
    Ok(out)
}
