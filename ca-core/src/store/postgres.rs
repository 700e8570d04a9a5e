//! The PostgreSQL backend: one database shared by any number of processes.
//!
//! The sync `postgres` client runs its own tokio runtime and panics when called from inside
//! another (DESIGN.md, PostgreSQL row): never call this store on an async worker thread.
//!
//! Every write that extends the audit chain is one transaction holding a transaction-scoped
//! advisory lock (`CHAIN_LOCK`) taken before it reads the audit head, so writers on every
//! process serialise on the chain: each record's predecessor is the previously committed
//! record. Under READ COMMITTED each statement after the lock sees everything committed before
//! it was granted. Primary keys guarantee serial, credential and token uniqueness whatever a
//! writer checked first. `append_audit` is group-committed like sled's: one writer thread takes
//! everything queued and commits it as one transaction (one WAL flush).
//!
//! Records are stored as the same JSON as in sled, with the columns the queries need beside.
//! Commits wait for the WAL flush (PostgreSQL's default `synchronous_commit`), so an
//! acknowledged write survives `kill -9` and power loss of the database host.

mod copy;

use super::group_commit::{self, GroupCommit};
use super::pg_tls::{self, Connect, MakeRustls};
use super::{
    AuditDone, AuthorityRecord, CertificateRecord, CredentialRecord, ExportItems, NumberedCrl,
    Revocation, Store, StoreError, StoreItem, StoreSummary, TokenRecord,
};
use crate::engine::audit::{AuditEvent, AuditMac, AuditRecord};
use postgres::{Client, NoTls, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The advisory lock key held by every transaction that appends to the audit chain.
const CHAIN_LOCK: i64 = 0x6870_6b69_0001;
/// The advisory lock key held while migrations run, so two processes opening a fresh database
/// do not both create the tables.
const MIGRATE_LOCK: i64 = 0x6870_6b69_0002;
/// The most connections one process opens at once unless the URL's `pool_size` says otherwise:
/// the server's `max_connections` (100 by default) is shared by every instance, and a burst of
/// requests on an unbounded pool would take every slot and refuse the other instances. Every
/// connection opened is kept for reuse until it breaks: a pool that closed connections past an
/// idle limit would open a backend per request under load (a fork on the server each).
pub(super) const POOL_SIZE: usize = 32;

/// Versioned schema migrations, applied in order at open; `schema_version` records each one
/// applied. Never edit a released migration: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: the tables the `Store` trait needs.
    r#"
    CREATE TABLE authorities (id text PRIMARY KEY, body bytea NOT NULL);
    CREATE TABLE certificates (serial bytea PRIMARY KEY, issuer_ca text NOT NULL,
                               body bytea NOT NULL);
    CREATE TABLE revoked (issuer_ca text NOT NULL, serial bytea NOT NULL
                              REFERENCES certificates (serial),
                          body bytea NOT NULL, PRIMARY KEY (issuer_ca, serial));
    CREATE TABLE settings (key text PRIMARY KEY, value bytea NOT NULL);
    CREATE TABLE crl_numbers (issuer_ca text PRIMARY KEY, last bigint NOT NULL CHECK (last > 0));
    CREATE TABLE audit (seq bigint PRIMARY KEY CHECK (seq > 0), body bytea NOT NULL);
    CREATE TABLE audit_head (one boolean PRIMARY KEY DEFAULT true CHECK (one),
                             seq bigint NOT NULL, hash text NOT NULL);
    CREATE TABLE initialised (one boolean PRIMARY KEY DEFAULT true CHECK (one));
    CREATE TABLE credentials (id text PRIMARY KEY, owner text NOT NULL,
                              serial bytea NOT NULL UNIQUE REFERENCES certificates (serial),
                              body bytea NOT NULL);
    CREATE INDEX credentials_owner ON credentials (owner, id COLLATE "C");
    CREATE TABLE tokens (id text PRIMARY KEY, body bytea NOT NULL);
    "#,
];

/// The PostgreSQL implementation.
pub struct PgStore {
    /// First, so that dropping the store finishes the writer's queue before anything else goes.
    writer: GroupCommit,
    pool: Arc<Pool>,
    audit_mac: Arc<OnceLock<AuditMac>>,
}

/// Connections for reuse, at most `pool_size` open at once (a `Mutex<Vec<Conn>>` and a count:
/// the store needs no more than a handful, and this adds no dependency; a broken connection is
/// dropped instead of being returned).
///
/// When the database goes away (stopped, restarted, unreachable), every call fails at once with
/// [`StoreError::Unavailable`] instead of waiting: a new connection is tried per call, bounded
/// by `connect_timeout` (`CONNECT_TIMEOUT` unless the URL sets one); a connection lost under a
/// call fails that call (a commit whose answer was lost is reported failed, never acknowledged:
/// it may or may not have landed), and every idle connection is dropped with it, so the first
/// calls after the database is back open fresh ones. Nothing is retried that may have been
/// written; a call that found a pooled connection dead before its first statement (the server
/// restarted while it sat idle) runs once more on a new connection.
struct Pool {
    config: postgres::Config,
    /// `None` with `sslmode=disable`.
    tls: Option<MakeRustls>,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<Slots>,
    /// How long a call waits for a free slot: the connect timeout.
    slot_wait: Duration,
}

/// The connections a pool may have open (idle or in use), and a wait for a change: a slot freed
/// or a connection returned to the idle list.
struct Slots {
    state: Mutex<SlotState>,
    changed: Condvar,
    size: usize,
}

#[derive(Default)]
struct SlotState {
    open: usize,
    /// Counts changes, so a caller that looked at the idle list and found nothing sleeps only
    /// if nothing changed since it looked.
    generation: u64,
}

impl Slots {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Takes a slot when one is free.
    fn try_take(&self) -> bool {
        let mut state = self.state();
        if state.open >= self.size {
            return false;
        }
        state.open += 1;
        true
    }

    /// Waits until something changed after `seen`; `false` once `deadline` passed.
    fn wait_change(&self, seen: u64, deadline: Instant) -> bool {
        let mut state = self.state();
        while state.generation == seen {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }

    fn change(&self, freed: bool) {
        let mut state = self.state();
        if freed {
            state.open = state.open.saturating_sub(1);
        }
        state.generation += 1;
        self.changed.notify_all();
    }

    fn busy(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "all {} database connections of this process are in use",
            self.size
        ))
    }
}

/// A connection holding one of its pool's slots until it is dropped (closed).
pub(super) struct Conn {
    client: Client,
    slots: Arc<Slots>,
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.slots.change(true);
    }
}

/// A connection attempt gives up after this long unless the URL's `connect_timeout` says
/// otherwise: a worker never waits longer for an unreachable database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unacknowledged data (a query, a keepalive probe) fails the connection after this long unless
/// the URL's `tcp_user_timeout` says otherwise (Linux TCP_USER_TIMEOUT), so a call in flight when
/// the database host vanishes fails instead of waiting for TCP's minutes of retransmissions.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive probes start after this much silence when the URL leaves libpq's two hours: a call
/// waiting for an answer from a host that vanished silently fails within about this long plus
/// `TCP_USER_TIMEOUT`.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
/// How long [`PgStore::probe`] waits for the server's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Drop for Pool {
    /// Closing a `postgres::Client` blocks on the client's own runtime, which panics on a thread
    /// that drives another (the service drops its store at shutdown on an actix thread): the
    /// idle connections are closed on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(
            self.idle
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl Pool {
    fn new(mut connect: Connect) -> Self {
        let config = &mut connect.config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(KEEPALIVES_IDLE);
        }
        let wait = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT);
        Self {
            config: connect.config,
            tls: connect.tls,
            idle: Mutex::default(),
            slots: Arc::new(Slots {
                state: Mutex::default(),
                changed: Condvar::new(),
                size: connect.pool_size,
            }),
            slot_wait: wait,
        }
    }

    /// A new connection, once a slot is free: a caller queues behind the others for at most
    /// the connect timeout, then is told the database is busy (503), never hangs.
    fn connect(&self) -> Result<Conn, StoreError> {
        let deadline = Instant::now() + self.slot_wait;
        loop {
            let seen = self.slots.generation();
            if self.slots.try_take() {
                return self.open_slot();
            }
            if !self.slots.wait_change(seen, deadline) {
                return Err(self.slots.busy());
            }
        }
    }

    /// Connects in a slot already taken, freeing it when that fails.
    fn open_slot(&self) -> Result<Conn, StoreError> {
        let connected = match &self.tls {
            None => self.config.connect(NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        };
        match connected {
            Ok(client) => Ok(Conn {
                client,
                slots: self.slots.clone(),
            }),
            // Whatever stops a connection (refused, timed out, TLS, authentication) leaves the
            // database unreachable for this process.
            Err(e) => {
                self.slots.change(true);
                Err(StoreError::Unavailable(describe(&e)))
            }
        }
    }

    /// An idle connection (`true`: it may have died since it was used) or a new one, waiting
    /// as [`Pool::connect`] does while every slot is taken.
    fn get(&self) -> Result<(Conn, bool), StoreError> {
        let deadline = Instant::now() + self.slot_wait;
        loop {
            let seen = self.slots.generation();
            let idle = self.idle.lock().map(|mut idle| idle.pop());
            match idle {
                Ok(Some(client)) if !client.is_closed() => return Ok((client, true)),
                // Closed under us: dropping it frees its slot.
                Ok(Some(_)) => continue,
                _ => {}
            }
            if self.slots.try_take() {
                return Ok((self.open_slot()?, false));
            }
            if !self.slots.wait_change(seen, deadline) {
                return Err(self.slots.busy());
            }
        }
    }

    /// Returns `client` for reuse after `outcome`; a database that went away takes every idle
    /// connection with it.
    fn put<T>(&self, client: Conn, outcome: &Result<T, StoreError>) {
        if matches!(outcome, Err(StoreError::Unavailable(_))) {
            let stale = self
                .idle
                .lock()
                .map(|mut idle| std::mem::take(&mut *idle))
                .unwrap_or_default();
            drop((client, stale));
            return;
        }
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(client);
            drop(idle);
            self.slots.change(false);
        }
    }

    /// Runs `f` in one transaction, committed before it returns `Ok`; with `chain`, the
    /// transaction holds the audit chain's advisory lock first.
    fn transaction<T, F>(&self, chain: bool, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    {
        let (mut client, reused) = self.get()?;
        let outcome = match run_transaction(&mut client, chain, f) {
            Ok(outcome) => outcome,
            // BEGIN failed: nothing was sent that could commit, so a new connection may try.
            Err((f, StoreError::Unavailable(_))) if reused => {
                self.put(
                    client,
                    &Err::<(), _>(StoreError::Unavailable(String::new())),
                );
                client = self.connect()?;
                run_transaction(&mut client, chain, f).unwrap_or_else(|(_, e)| Err(e))
            }
            Err((_, e)) => Err(e),
        };
        self.put(client, &outcome);
        outcome
    }

    /// Runs a read on a pooled connection; once more on a new one when the pooled one is dead.
    fn read<T>(&self, f: impl Fn(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let (mut client, reused) = self.get()?;
        let mut outcome = f(&mut client);
        if reused && matches!(outcome, Err(StoreError::Unavailable(_))) {
            self.put(client, &outcome);
            client = self.connect()?;
            outcome = f(&mut client);
        }
        self.put(client, &outcome);
        outcome
    }
}

/// BEGIN (and the chain lock), `f`, COMMIT on `client`; `Err` gives `f` back when BEGIN failed,
/// so the caller may run it on another connection.
#[allow(clippy::type_complexity)]
fn run_transaction<T, F>(
    client: &mut Client,
    chain: bool,
    f: F,
) -> Result<Result<T, StoreError>, (F, StoreError)>
where
    F: FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
{
    let mut tx = match client.transaction() {
        Ok(tx) => tx,
        Err(e) => return Err((f, backend(e))),
    };
    Ok((|| {
        if chain {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
                .map_err(backend)?;
        }
        let value = f(&mut tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    })())
}

impl PgStore {
    /// Connects to the database at `url` (libpq's URI form; its key=value form without the
    /// verifying TLS modes), applies the schema migrations it lacks, and starts the audit writer.
    ///
    /// TLS as libpq's `sslmode` query parameter says (`disable`, `prefer` — the default —,
    /// `require`, `verify-ca`, `verify-full`), the CAs to verify the server against in the PEM
    /// file `sslrootcert=PATH`, which is read here; `verify-full` is the mode that authenticates
    /// the server. A database that cannot be reached is [`StoreError::Unavailable`].
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let pool = Arc::new(Pool::new(pg_tls::parse(url)?));
        migrate(&pool)?;
        let audit_mac: Arc<OnceLock<AuditMac>> = Arc::default();
        // One transaction per batch: all of it commits (one WAL flush), or none.
        let writer = {
            let (pool, mac) = (pool.clone(), audit_mac.clone());
            GroupCommit::start(Box::new(move |events| {
                pool.transaction(true, |tx| append_all_tx(tx, events, mac.get()))
            }))?
        };
        Ok(Self {
            writer,
            pool,
            audit_mac,
        })
    }

    /// The schema version of the database (the number of migrations applied).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.pool.read(|client| {
            let row = client
                .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
                .map_err(backend)?;
            Ok(row.get(0))
        })
    }

    /// One transaction holding the chain lock: `write`, then `event` appended to the audit log,
    /// committed together.
    fn audited<T>(
        &self,
        event: AuditEvent,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<(T, AuditRecord), StoreError> {
        self.pool.transaction(true, |tx| {
            let value = write(tx)?;
            let record = append_tx(tx, event, self.audit_mac.get())?;
            Ok((value, record))
        })
    }

    /// One chained transaction that changes the revocation state of certificate `serial`.
    fn change_revocation(
        &self,
        serial: &[u8],
        event: AuditEvent,
        change: impl FnOnce(&CertificateRecord) -> Result<Option<Revocation>, StoreError>,
    ) -> Result<CertificateRecord, StoreError> {
        self.audited(event, |tx| {
            let row = tx
                .query_opt(
                    "SELECT body FROM certificates WHERE serial = $1 FOR UPDATE",
                    &[&serial],
                )
                .map_err(backend)?;
            let Some(row) = row else {
                return Err(StoreError::NotFound(hex::encode(serial)));
            };
            let mut record: CertificateRecord = decode(row.get(0), "certificate")?;
            let revocation = change(&record)?;
            match &revocation {
                Some(r) => {
                    tx.execute(
                        "INSERT INTO revoked (issuer_ca, serial, body) VALUES ($1, $2, $3)
                         ON CONFLICT (issuer_ca, serial) DO UPDATE SET body = excluded.body",
                        &[&record.issuer_ca, &serial, &encode(r)?],
                    )
                    .map_err(backend)?;
                }
                None => {
                    tx.execute(
                        "DELETE FROM revoked WHERE issuer_ca = $1 AND serial = $2",
                        &[&record.issuer_ca, &serial],
                    )
                    .map_err(backend)?;
                }
            }
            record.revocation = revocation;
            tx.execute(
                "UPDATE certificates SET body = $2 WHERE serial = $1",
                &[&serial, &encode(&record)?],
            )
            .map_err(backend)?;
            Ok(record)
        })
        .map(|(record, _)| record)
    }
}

/// Creates `schema_version` if missing and applies the migrations the database lacks, each in
/// the transaction that records it; refuses a database migrated by a newer release.
fn migrate(pool: &Pool) -> Result<(), StoreError> {
    pool.transaction(false, |tx| {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
            .map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .map_err(backend)?;
        let applied: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .map_err(backend)?
            .get(0);
        let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        if applied > known {
            return Err(StoreError::Backend(format!(
                "the database schema is version {applied}, newer than this release's {known}"
            )));
        }
        for (version, sql) in (1..)
            .zip(MIGRATIONS)
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            tx.batch_execute(sql).map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .map_err(backend)?;
        }
        Ok(())
    })
}

/// A PostgreSQL error as a store error: [`StoreError::Unavailable`] when the connection is lost
/// or the server is going away or not accepting sessions, so the caller may retry later.
fn backend(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let lost = e.is_closed()
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        || e.code().is_some_and(|code| {
            // Class 08 (connection exception); 57P01-57P03: the server shutting down, crashed,
            // or starting; 53300: no connection slot left.
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(code)
        });
    if lost {
        StoreError::Unavailable(describe(&e))
    } else {
        StoreError::Backend(describe(&e))
    }
}

/// The error and its causes: tokio-postgres's own message names only the kind ("db error",
/// "error performing TLS handshake"), the server's message and the TLS verdict are its source.
fn describe(e: &postgres::Error) -> String {
    let mut text = format!("postgres: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

fn decode<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn seq_to_sql(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("audit seq {seq} out of range")))
}

fn seq_from_sql(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("audit seq {seq} out of range")))
}

/// Whether the certificate is on hold (certificateHold), the one revocation that may be lifted.
/// The newest audit record, checked against the head; `None` on an empty log. One round trip.
fn head_record(tx: &mut Transaction<'_>) -> Result<Option<AuditRecord>, StoreError> {
    let Some(head) = tx
        .query_opt(
            "SELECT h.seq, h.hash, a.body FROM audit_head h LEFT JOIN audit a ON a.seq = h.seq",
            &[],
        )
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let (seq, hash, body): (i64, String, Option<&[u8]>) = (head.get(0), head.get(1), head.get(2));
    let Some(body) = body else {
        return Err(StoreError::Corrupt(format!(
            "audit head names seq {seq} but that record is missing"
        )));
    };
    let prev: AuditRecord = decode(body, "audit record")?;
    if prev.seq != seq_from_sql(seq)? || prev.hash != hash {
        return Err(StoreError::Corrupt(format!(
            "audit record {seq} does not match the audit head"
        )));
    }
    Ok(Some(prev))
}

/// Chains `event` onto the log inside `tx`, which holds `CHAIN_LOCK`. Refuses (Corrupt) to
/// extend a log whose head does not match its newest record, as sled's `append_tx` does.
fn append_tx(
    tx: &mut Transaction<'_>,
    event: AuditEvent,
    mac: Option<&AuditMac>,
) -> Result<AuditRecord, StoreError> {
    let mut records = append_all_tx(tx, vec![event], mac)?;
    records.pop().ok_or_else(group_commit::writer_failed)
}

/// [`append_tx`] for a batch, in order, in four statements whatever its size (the head, the
/// records in one `INSERT … unnest`, the new head): the group commit's transaction.
fn append_all_tx(
    tx: &mut Transaction<'_>,
    events: Vec<AuditEvent>,
    mac: Option<&AuditMac>,
) -> Result<Vec<AuditRecord>, StoreError> {
    let head = head_record(tx)?;
    let mut records: Vec<AuditRecord> = Vec::with_capacity(events.len());
    for event in events {
        let record = AuditRecord::next(records.last().or(head.as_ref()), event).authenticated(mac);
        records.push(record);
    }
    let Some(newest) = records.last() else {
        return Ok(records);
    };
    let seqs = records
        .iter()
        .map(|r| seq_to_sql(r.seq))
        .collect::<Result<Vec<_>, _>>()?;
    let bodies = records.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    let inserted = tx
        .execute(
            "INSERT INTO audit (seq, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])
             ON CONFLICT (seq) DO NOTHING",
            &[&seqs, &bodies],
        )
        .map_err(backend)?;
    if inserted != records.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "an audit record of {}..={} exists beyond the audit head",
            records[0].seq, newest.seq
        )));
    }
    tx.execute(
        "INSERT INTO audit_head (one, seq, hash) VALUES (true, $1, $2)
         ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[&seq_to_sql(newest.seq)?, &newest.hash],
    )
    .map_err(backend)?;
    Ok(records)
}

/// Allocates the next CRL number of `issuer_ca` inside `tx`.
fn next_crl_number_tx(tx: &mut Transaction<'_>, issuer_ca: &str) -> Result<u64, StoreError> {
    // The row lock of the upsert serialises numbering per CA even without the chain lock.
    let last: i64 = tx
        .query_one(
            "INSERT INTO crl_numbers (issuer_ca, last) VALUES ($1, 1)
             ON CONFLICT (issuer_ca) DO UPDATE SET last = crl_numbers.last + 1
             RETURNING last",
            &[&issuer_ca],
        )
        .map_err(|e| match backend(e) {
            StoreError::Backend(e) => {
                StoreError::Backend(format!("CRL number of {issuer_ca}: {e}"))
            }
            other => other,
        })?
        .get(0);
    u64::try_from(last)
        .map_err(|_| StoreError::Corrupt(format!("CRL number {last} of {issuer_ca}")))
}

/// Inserts a certificate (and its revocation index entry, when stored revoked); refuses a
/// serial that exists. The primary key guarantees the same if a check were ever skipped.
fn insert_certificate_tx(
    tx: &mut Transaction<'_>,
    record: &CertificateRecord,
) -> Result<(), StoreError> {
    let inserted = tx
        .execute(
            "INSERT INTO certificates (serial, issuer_ca, body) VALUES ($1, $2, $3)
             ON CONFLICT (serial) DO NOTHING",
            &[&record.serial, &record.issuer_ca, &encode(record)?],
        )
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::DuplicateSerial(hex::encode(&record.serial)));
    }
    if let Some(revocation) = &record.revocation {
        tx.execute(
            "INSERT INTO revoked (issuer_ca, serial, body) VALUES ($1, $2, $3)",
            &[&record.issuer_ca, &record.serial, &encode(revocation)?],
        )
        .map_err(backend)?;
    }
    Ok(())
}

impl Store for PgStore {
    fn initialise(
        &self,
        authorities: &[AuthorityRecord],
        ca_certificates: &[CertificateRecord],
        settings: &[(&str, &[u8])],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        self.audited(event, |tx| {
            let done = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM initialised)
                         OR EXISTS (SELECT 1 FROM authorities)",
                    &[],
                )
                .map_err(backend)?;
            if done.get::<_, bool>(0) {
                return Err(StoreError::AlreadyInitialised);
            }
            for authority in authorities {
                let inserted = tx
                    .execute(
                        "INSERT INTO authorities (id, body) VALUES ($1, $2)
                         ON CONFLICT (id) DO NOTHING",
                        &[&authority.id, &encode(authority)?],
                    )
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyInitialised);
                }
            }
            for record in ca_certificates {
                insert_certificate_tx(tx, record)?;
            }
            for (key, value) in settings {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[key, value],
                )
                .map_err(backend)?;
            }
            tx.execute("INSERT INTO initialised DEFAULT VALUES", &[])
                .map_err(backend)?;
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn authority(&self, id: &str) -> Result<Option<AuthorityRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query_opt("SELECT body FROM authorities WHERE id = $1", &[&id])
                .map_err(backend)?
                .map(|row| decode(row.get(0), "authority"))
                .transpose()
        })
    }

    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.pool.read(|client| {
            Ok(client
                .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .map_err(backend)?
                .map(|row| row.get(0)))
        })
    }

    fn insert_certificate(
        &self,
        record: &CertificateRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if record.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(record.issuer_ca.clone()));
        }
        self.audited(event, |tx| {
            insert_certificate_tx(tx, record)?;
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn insert_certificate_with_setting(
        &self,
        record: &CertificateRecord,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if record.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(record.issuer_ca.clone()));
        }
        self.audited(event, |tx| {
            insert_certificate_tx(tx, record)?;
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .map_err(backend)?;
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn certificate(&self, serial: &[u8]) -> Result<Option<CertificateRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query_opt(
                    "SELECT body FROM certificates WHERE serial = $1",
                    &[&serial],
                )
                .map_err(backend)?
                .map(|row| decode(row.get(0), "certificate"))
                .transpose()
        })
    }

    fn contains_serial(&self, serial: &[u8]) -> Result<bool, StoreError> {
        self.pool.read(|client| {
            Ok(client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = $1)",
                    &[&serial],
                )
                .map_err(backend)?
                .get(0))
        })
    }

    fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query("SELECT body FROM certificates ORDER BY serial", &[])
                .map_err(backend)?
                .iter()
                .map(|row| decode(row.get(0), "certificate"))
                .collect()
        })
    }

    fn revoke(
        &self,
        serial: &[u8],
        revocation: Revocation,
        event: AuditEvent,
    ) -> Result<CertificateRecord, StoreError> {
        self.change_revocation(serial, event, |record| {
            record.revoked_with(&revocation).map(Some)
        })
    }

    fn release(&self, serial: &[u8], event: AuditEvent) -> Result<CertificateRecord, StoreError> {
        self.change_revocation(serial, event, |record| record.released().map(|()| None))
    }

    fn revoked(&self, issuer_ca: &str) -> Result<Vec<(Vec<u8>, Revocation)>, StoreError> {
        // No stored CA id contains NUL (insert refuses them), and PostgreSQL text cannot.
        if issuer_ca.contains('\0') {
            return Ok(Vec::new());
        }
        self.pool.read(|client| {
            client
                .query(
                    "SELECT serial, body FROM revoked WHERE issuer_ca = $1 ORDER BY serial",
                    &[&issuer_ca],
                )
                .map_err(backend)?
                .iter()
                .map(|row| Ok((row.get(0), decode(row.get(1), "revocation")?)))
                .collect()
        })
    }

    fn revocation(&self, issuer_ca: &str, serial: &[u8]) -> Result<Option<Revocation>, StoreError> {
        if issuer_ca.contains('\0') {
            return Ok(None);
        }
        self.pool.read(|client| {
            client
                .query_opt(
                    "SELECT body FROM revoked WHERE issuer_ca = $1 AND serial = $2",
                    &[&issuer_ca, &serial],
                )
                .map_err(backend)?
                .map(|row| decode(row.get(0), "revocation"))
                .transpose()
        })
    }

    fn next_crl_number(
        &self,
        issuer_ca: &str,
        event: AuditEvent,
    ) -> Result<(u64, AuditRecord), StoreError> {
        self.audited(event, |tx| next_crl_number_tx(tx, issuer_ca))
    }

    /// The index is read in the numbering transaction, after the chain lock, which every
    /// revocation and release holds too: the list is exactly what was committed before this
    /// number, whichever process revoked.
    fn next_crl(
        &self,
        issuer_ca: &str,
        event: &dyn Fn(usize) -> AuditEvent,
    ) -> Result<NumberedCrl, StoreError> {
        if issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(issuer_ca.to_owned()));
        }
        self.pool.transaction(true, |tx| {
            let revoked = tx
                .query(
                    "SELECT serial, body FROM revoked WHERE issuer_ca = $1 ORDER BY serial",
                    &[&issuer_ca],
                )
                .map_err(backend)?
                .iter()
                .map(|row| Ok((row.get(0), decode(row.get(1), "revocation")?)))
                .collect::<Result<Vec<(Vec<u8>, Revocation)>, StoreError>>()?;
            let number = next_crl_number_tx(tx, issuer_ca)?;
            append_tx(tx, event(revoked.len()), self.audit_mac.get())?;
            Ok((number, revoked))
        })
    }

    fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        self.writer.append(event)
    }

    /// Group commit: the writer thread takes everything queued while it committed the previous
    /// batch and commits it as one transaction.
    fn append_audit_then(&self, event: AuditEvent, done: AuditDone) {
        self.writer.submit(event, done);
    }

    fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query("SELECT body FROM audit ORDER BY seq", &[])
                .map_err(backend)?
                .iter()
                .map(|row| decode(row.get(0), "audit record"))
                .collect()
        })
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.pool.read(|client| {
            client
                .query_opt("SELECT seq, hash FROM audit_head", &[])
                .map_err(backend)?
                .map(|row| Ok((seq_from_sql(row.get(0))?, row.get(1))))
                .transpose()
        })
    }

    fn set_audit_mac(&self, mac: AuditMac) -> Result<(), StoreError> {
        self.audit_mac
            .set(mac)
            .map_err(|_| StoreError::Backend("the audit key is already set".into()))
    }

    fn add_setting(
        &self,
        key: &str,
        value: &[u8],
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        self.audited(event, |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    &[&key, &value],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::Backend(format!("setting {key} already exists")));
            }
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn insert_credential(
        &self,
        certificate: &CertificateRecord,
        credential: &CredentialRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        if certificate.issuer_ca.contains('\0') {
            return Err(StoreError::InvalidCaId(certificate.issuer_ca.clone()));
        }
        if certificate.serial != credential.serial {
            return Err(StoreError::Corrupt(format!(
                "credential {} names serial {} but its certificate is {}",
                credential.id,
                hex::encode(&credential.serial),
                hex::encode(&certificate.serial)
            )));
        }
        self.audited(event, |tx| {
            insert_certificate_tx(tx, certificate)?;
            let inserted = tx
                .execute(
                    "INSERT INTO credentials (id, owner, serial, body) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &credential.id,
                        &credential.owner,
                        &credential.serial,
                        &encode(credential)?,
                    ],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::DuplicateCredential(credential.id.clone()));
            }
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query_opt("SELECT body FROM credentials WHERE id = $1", &[&id])
                .map_err(backend)?
                .map(|row| decode(row.get(0), "credential"))
                .transpose()
        })
    }

    fn credentials_of(&self, owner: &str) -> Result<Vec<CredentialRecord>, StoreError> {
        // COLLATE "C": byte order, as sled's keys.
        self.pool.read(|client| {
            client
                .query(
                    r#"SELECT body FROM credentials WHERE owner = $1 ORDER BY id COLLATE "C""#,
                    &[&owner],
                )
                .map_err(backend)?
                .iter()
                .map(|row| decode(row.get(0), "credential"))
                .collect()
        })
    }

    fn insert_token(
        &self,
        token: &TokenRecord,
        event: AuditEvent,
    ) -> Result<AuditRecord, StoreError> {
        self.audited(event, |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO tokens (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    &[&token.id, &encode(token)?],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::DuplicateToken(token.id.clone()));
            }
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query_opt("SELECT body FROM tokens WHERE id = $1", &[&id])
                .map_err(backend)?
                .map(|row| decode(row.get(0), "token"))
                .transpose()
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.pool.read(|client| {
            client
                .query(r#"SELECT body FROM tokens ORDER BY id COLLATE "C""#, &[])
                .map_err(backend)?
                .iter()
                .map(|row| decode(row.get(0), "token"))
                .collect()
        })
    }

    /// A round trip on a pooled connection (a new one if the pooled one is dead), waiting at
    /// most `PROBE_TIMEOUT` for the answer.
    fn probe(&self) -> Result<(), StoreError> {
        self.pool.read(|client| {
            client
                .is_valid(PROBE_TIMEOUT)
                .map_err(|e| StoreError::Unavailable(describe(&e)))
        })
    }

    fn revoke_token(&self, id: &str, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        self.audited(event, |tx| {
            let Some(row) = tx
                .query_opt("SELECT body FROM tokens WHERE id = $1 FOR UPDATE", &[&id])
                .map_err(backend)?
            else {
                return Err(StoreError::TokenNotFound(id.to_owned()));
            };
            let mut record: TokenRecord = decode(row.get(0), "token")?;
            if record.revoked {
                return Err(StoreError::TokenAlreadyRevoked(id.to_owned()));
            }
            record.revoked = true;
            tx.execute(
                "UPDATE tokens SET body = $2 WHERE id = $1",
                &[&id, &encode(&record)?],
            )
            .map_err(backend)?;
            Ok(())
        })
        .map(|((), record)| record)
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        self.copy_is_empty()
    }

    fn export(&self) -> Result<ExportItems<'_>, StoreError> {
        self.copy_export()
    }

    fn import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        self.copy_import(items)
    }
}
