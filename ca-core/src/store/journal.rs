//! The audit journal: an append-only file in the store directory that makes group-committed
//! audit records durable with one `write(2)` and one `fdatasync` instead of sled's `flush`
//! (which writes and syncs sled's whole log buffer, about 3× the cost). The records reach sled
//! later, without a flush (`sled.rs`); `SledStore::open` replays the frames sled lost and
//! truncates the file once sled is flushed.
//!
//! A frame is `len` (u32 LE) ‖ CRC-32 of the payload (u32 LE) ‖ CRC-32 of those 8 octets (u32 LE)
//! ‖ payload (the JSON `AuditRecord`, as stored in sled). The header CRC tells a corrupted length
//! from a torn write: only a frame cut short by the end of the file, or a bad frame followed by
//! nothing but zeros (a torn write after power loss), is a torn tail, which was never
//! acknowledged and is ignored. Any other bad frame is corruption of acknowledged records: an
//! error, never skipped.

use super::{JOURNAL_FILE, StoreError};
use crate::engine::audit::AuditRecord;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Past this size the writer flushes sled and truncates the journal, so a replay stays short.
pub(crate) const TRUNCATE_AT: u64 = 4 * 1024 * 1024;
const HEADER_LEN: usize = 12;
/// No audit record comes near this; a larger length is corruption, not a record.
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// How often the [`Syncer`] syncs a journal written without sync (`Durability::Write`).
const SYNC_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) struct Journal {
    file: File,
    len: u64,
    /// Written since the last sync (only appends without sync set it).
    dirty: Arc<AtomicBool>,
}

/// The background sync of `Durability::Write`; dropping it syncs once more and stops it.
pub(crate) struct Syncer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and reads its intact frames.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Vec<AuditRecord>), StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io("opening", e))?;
        if !existed {
            // The new name must be durable before a record relies on it.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io("syncing the store directory", e))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("reading", e))?;
        let records = decode(&bytes)?;
        let len = bytes.len() as u64;
        let journal = Journal {
            file,
            len,
            dirty: Arc::default(),
        };
        Ok((journal, records))
    }

    /// Appends one frame per payload (a JSON `AuditRecord`, as stored in sled) with one write
    /// and, when `sync`, syncs the data before returning; otherwise marks the journal for the
    /// next [`Syncer`] round.
    pub(crate) fn append(&mut self, payloads: &[&[u8]], sync: bool) -> Result<(), StoreError> {
        let bytes = encode(payloads)?;
        self.file.write_all(&bytes).map_err(|e| io("writing", e))?;
        if sync {
            self.file.sync_data().map_err(|e| io("syncing", e))?;
        } else {
            self.dirty.store(true, Ordering::Release);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Starts a thread that syncs the journal every `SYNC_INTERVAL` while something is unsynced.
    pub(crate) fn syncer(&self) -> Result<Syncer, StoreError> {
        let file = self.file.try_clone().map_err(|e| io("opening", e))?;
        let dirty = self.dirty.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("audit-journal-sync".into())
            .spawn(move || {
                loop {
                    let last_round = stopping.load(Ordering::Acquire);
                    // A failed sync is retried next round: the records are in the page cache
                    // (they survive the process) and sled's own flush catches up too.
                    if dirty.swap(false, Ordering::AcqRel) && file.sync_data().is_err() {
                        dirty.store(true, Ordering::Release);
                    }
                    if last_round {
                        break;
                    }
                    std::thread::sleep(SYNC_INTERVAL);
                }
            })
            .map_err(|e| io("starting the sync thread", e))?;
        Ok(Syncer {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Cuts the journal back to `len` octets (what a failed append may have left beyond it).
    pub(crate) fn rewind(&mut self, len: u64) -> Result<(), StoreError> {
        self.file.set_len(len).map_err(|e| io("truncating", e))?;
        self.file.sync_data().map_err(|e| io("syncing", e))?;
        self.len = len;
        Ok(())
    }

    /// Empties the journal; only once sled holds (flushed) every record in it.
    pub(crate) fn truncate(&mut self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(|e| io("truncating", e))?;
        self.file.sync_data().map_err(|e| io("syncing", e))?;
        self.len = 0;
        Ok(())
    }
}

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("audit journal: {what}: {e}"))
}

fn encode(payloads: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(payloads.iter().map(|p| HEADER_LEN + p.len()).sum());
    for payload in payloads {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&n| n as usize <= MAX_PAYLOAD)
            .ok_or_else(|| StoreError::Backend("audit record too large to journal".into()))?;
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let header_crc = crc32fast::hash(&header[..8]);
        header[8..].copy_from_slice(&header_crc.to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(payload);
    }
    Ok(out)
}

/// The records of the intact frames, in file order; see the module comment for what is a torn
/// tail and what is an error.
fn decode(bytes: &[u8]) -> Result<Vec<AuditRecord>, StoreError> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let torn_or_corrupt = |what: &str| {
            if rest.iter().all(|&b| b == 0) {
                Ok(())
            } else {
                Err(StoreError::Corrupt(format!(
                    "audit journal: {what} at offset {pos}"
                )))
            }
        };
        let Some(header) = rest.get(..HEADER_LEN) else {
            break; // a header cut short: torn
        };
        let stored_header_crc = u32::from_le_bytes(header[8..].try_into().expect("4 octets"));
        if crc32fast::hash(&header[..8]) != stored_header_crc {
            torn_or_corrupt("bad frame header")?;
            break;
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 octets")) as usize;
        let payload_crc = u32::from_le_bytes(header[4..8].try_into().expect("4 octets"));
        if len == 0 || len > MAX_PAYLOAD {
            torn_or_corrupt("impossible frame length")?;
            break;
        }
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            break; // a payload cut short by the end of the file: torn
        };
        let last = HEADER_LEN + len == rest.len();
        if crc32fast::hash(payload) != payload_crc {
            if last {
                break; // the last write, incomplete on disk: torn
            }
            return Err(StoreError::Corrupt(format!(
                "audit journal: frame at offset {pos} fails its CRC"
            )));
        }
        let record = serde_json::from_slice(payload).map_err(|e| {
            StoreError::Corrupt(format!("audit journal: frame at offset {pos}: {e}"))
        })?;
        records.push(record);
        pos += HEADER_LEN + len;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::audit::{AuditAction, AuditEvent};

    fn records(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let event = AuditEvent {
                time: 1_700_000_000 + i,
                actor: "token:t".into(),
                action: AuditAction::Sign,
                object: format!("credential:{i}"),
                details: vec![("digest".into(), "00".repeat(32))],
            };
            out.push(AuditRecord::next(out.last(), event));
        }
        out
    }

    fn frames(records: &[AuditRecord]) -> Vec<u8> {
        let payloads: Vec<_> = records
            .iter()
            .map(|r| serde_json::to_vec(r).unwrap())
            .collect();
        let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        encode(&payloads).unwrap()
    }

    #[test]
    fn frames_round_trip() {
        let written = records(3);
        assert_eq!(decode(&frames(&written)).unwrap(), written);
        assert!(decode(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_torn_tail_is_ignored() {
        let written = records(3);
        let full = frames(&written);
        let two = frames(&written[..2]).len();
        // Cut anywhere inside the third frame (header or payload): the first two remain.
        for cut in [
            two + 1,
            two + HEADER_LEN - 1,
            two + HEADER_LEN,
            full.len() - 1,
        ] {
            assert_eq!(decode(&full[..cut]).unwrap(), written[..2], "cut at {cut}");
        }
        // The last frame written in full length but with stale content.
        let mut stale = full.clone();
        let last = stale.len() - 2;
        stale[last] ^= 0x55;
        assert_eq!(decode(&stale).unwrap(), written[..2]);
        // Zeros after the intact frames (a file extended by a write that never reached disk).
        let mut zeros = frames(&written[..2]);
        zeros.extend_from_slice(&[0u8; 100]);
        assert_eq!(decode(&zeros).unwrap(), written[..2]);
    }

    #[test]
    fn a_corrupted_middle_frame_is_an_error() {
        let written = records(3);
        let full = frames(&written);
        let first = frames(&written[..1]).len();
        // A payload octet of the second frame.
        let mut payload = full.clone();
        payload[first + HEADER_LEN + 5] ^= 0x01;
        assert!(matches!(decode(&payload), Err(StoreError::Corrupt(_))));
        // Its length field: without the header CRC this would read as a torn tail.
        let mut length = full.clone();
        length[first] ^= 0x01;
        assert!(matches!(decode(&length), Err(StoreError::Corrupt(_))));
        // The first frame's payload, with others after it.
        let mut head = full;
        head[HEADER_LEN] ^= 0x20;
        assert!(matches!(decode(&head), Err(StoreError::Corrupt(_))));
    }
}
