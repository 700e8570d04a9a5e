//! The admin socket: `serve` holds sled's lock on the store, so an admin command beside it sends
//! its parsed request ([`Request`]) to the server over a Unix domain socket in the data directory
//! and prints the server's reply as it would print its own.
//!
//! Protocol (version 1): the client writes one JSON object `{"v":1,"request":{...}}` of at most
//! [`MAX_REQUEST`] bytes and shuts down its write half; the server answers one JSON object
//! `{"v":1,"ok":{...}}` or `{"v":1,"error":"..."}` and closes. An error is the message the command
//! would print after `error: `, and exits 2 with, as when it runs on a stopped directory.
//!
//! Who may connect: the socket is created 0600 inside the 0700 data directory, so only the
//! server's OS user (and root) can reach it. std has no stable peer-credential API
//! (`UnixStream::peer_cred` is unstable) and the crate forbids unsafe code, so the uid of the
//! peer is not checked again: the file modes are the whole access control.

use crate::admin::{ACTOR_SOCKET, Request};
use crate::datadir::DataDir;
use crate::http::AppState;
use actix_web::web;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Protocol version; a request of any other version is refused.
const VERSION: u32 = 1;
/// Largest request: a 1 MiB CSR or checkpoint (the commands' input limit) in base64, and room.
pub const MAX_REQUEST: u64 = 2 * 1024 * 1024;
/// Largest reply a client reads (`audit list` of a long log is the big one).
const MAX_REPLY: u64 = 1024 * 1024 * 1024;
/// Bytes read and dropped after an answer, so the client is not reset before it reads it.
const MAX_DRAIN: u64 = 8 * MAX_REQUEST;
/// Connections served at once; more are answered "busy" (only the owner can connect anyway).
const MAX_CONNECTIONS: usize = 8;
/// A request must arrive within this time.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "admin.sock";

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    request: Request,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<crate::admin::Reply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn socket_path(root: &Path) -> PathBuf {
    root.join(SOCKET_NAME)
}

/// Sends `request` to the server holding `dir`'s store. `None` when no server answers on the
/// socket (none there, or a stale one): the caller reports the store as in use, as before.
pub fn send(dir: &DataDir, request: &Request) -> Option<Result<crate::admin::Reply, String>> {
    let mut stream = UnixStream::connect(socket_path(dir.root())).ok()?;
    Some(exchange(&mut stream, request))
}

fn exchange(stream: &mut UnixStream, request: &Request) -> Result<crate::admin::Reply, String> {
    let transport = |e: std::io::Error| format!("talking to the server's admin socket: {e}");
    let body = serde_json::to_vec(&Envelope {
        v: VERSION,
        request: request.clone(),
    })
    .map_err(|e| e.to_string())?;
    stream.write_all(&body).map_err(transport)?;
    stream
        .shutdown(std::net::Shutdown::Write)
        .map_err(transport)?;
    let mut reply = Vec::new();
    stream
        .take(MAX_REPLY)
        .read_to_end(&mut reply)
        .map_err(transport)?;
    let answer: Answer = serde_json::from_slice(&reply)
        .map_err(|e| format!("the server's admin socket answered garbage: {e}"))?;
    match answer {
        Answer {
            v: VERSION,
            ok: Some(reply),
            error: None,
        } => Ok(reply),
        Answer {
            v: VERSION,
            ok: None,
            error: Some(message),
        } => Err(message),
        Answer { v, .. } => Err(format!(
            "the server's admin socket answered protocol version {v} or a malformed answer"
        )),
    }
}

/// The listening socket of a running `serve`; dropping it (clean shutdown) removes the file.
pub struct AdminSocket {
    path: PathBuf,
    inode: u64,
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        // Only our own socket: never one a later server made at the same path.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates the admin socket of `root` (the caller holds the store, so a socket already there was
/// left by a server that was killed: it is replaced) and serves it on its own threads, off the
/// actix executor.
pub fn listen(root: &Path, state: web::Data<AppState>) -> Result<AdminSocket> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(root);
    // Bound under a temporary name, made 0600, then renamed into place: the socket appears at
    // its path only with its final mode, and the rename replaces a stale one atomically.
    let tmp = root.join(format!(".{SOCKET_NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener =
        UnixListener::bind(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| {
            if std::fs::symlink_metadata(&path).is_ok() {
                tracing::warn!(
                    path = %path.display(),
                    "replacing the admin socket left by a server that did not shut down cleanly"
                );
            }
            std::fs::rename(&tmp, &path)
        })
        .and_then(|()| std::fs::symlink_metadata(&path));
    let meta = match placed {
        Ok(meta) => meta,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("creating {}", path.display()));
        }
    };
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("admin-socket".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let stream = match stream {
                    Ok(stream) => stream,
                    Err(e) => {
                        // Out of descriptors, say: wait rather than spin.
                        tracing::warn!(error = %e, "admin socket: accept failed");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                let slot = Slot::take(&busy);
                if slot.0.load(Ordering::Acquire) > MAX_CONNECTIONS {
                    // On the accepting thread: a short wait for the request's bytes.
                    let _ = answer(
                        stream,
                        Err("the admin socket is busy: try again".into()),
                        Duration::from_millis(100),
                    );
                    continue;
                }
                let state = state.clone();
                let spawned = std::thread::Builder::new()
                    .name("admin-request".into())
                    .spawn(move || {
                        // Released even if the operation panics.
                        let _slot = slot;
                        serve_one(stream, &state);
                    });
                if spawned.is_err() {
                    tracing::error!("admin socket: no thread for a connection");
                }
            }
        })
        .context("starting the admin socket thread")?;
    Ok(AdminSocket {
        path,
        inode: meta.ino(),
    })
}

/// One connection counted in the server's total until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Slot(count.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve_one(mut stream: UnixStream, state: &AppState) {
    let outcome = read_request(&mut stream).and_then(|request| {
        let now = crate::admin::now().map_err(|e| format!("{e:#}"))?;
        request
            .run(&state.authority, now, ACTOR_SOCKET)
            .map_err(|e| format!("{e:#}"))
    });
    if let Err(message) = &outcome {
        tracing::info!(error = %message, "admin socket request refused or failed");
    }
    let _ = answer(stream, outcome, Duration::from_secs(1));
}

fn read_request(stream: &mut UnixStream) -> Result<Request, String> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    (&mut *stream)
        .take(MAX_REQUEST + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the request: {e}"))?;
    if body.len() as u64 > MAX_REQUEST {
        return Err(format!(
            "the admin request is over the limit of {MAX_REQUEST} bytes"
        ));
    }
    // The version first, so a request of another version gets that said, not a parse error.
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let Version { v } = serde_json::from_slice(&body)
        .map_err(|e| format!("the admin request is not a protocol message: {e}"))?;
    if v != VERSION {
        return Err(format!(
            "admin protocol version {v} is not supported (this server speaks {VERSION})"
        ));
    }
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| format!("the admin request is malformed: {e}"))?;
    Ok(envelope.request)
}

fn answer(
    mut stream: UnixStream,
    outcome: Result<crate::admin::Reply, String>,
    drain: Duration,
) -> std::io::Result<()> {
    let (ok, error) = match outcome {
        Ok(reply) => (Some(reply), None),
        Err(message) => (None, Some(message)),
    };
    let body = serde_json::to_vec(&Answer {
        v: VERSION,
        ok,
        error,
    })
    .map_err(std::io::Error::other)?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    stream.write_all(&body)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    // A Unix socket closed with unread bytes resets its peer, which would then lose this answer
    // (an oversized request, or one refused as busy before it was read): read on, bounded.
    stream.set_read_timeout(Some(drain))?;
    std::io::copy(&mut (&stream).take(MAX_DRAIN), &mut std::io::sink())?;
    Ok(())
}
