//! The PostgreSQL side of `store::copy`: an export that reads one REPEATABLE READ snapshot
//! through server-side cursors (bounded memory however large the store), and an import in one
//! transaction. Apart from the audit writer, so that each changes on its own.

use super::{CHAIN_LOCK, PgStore, Pool, backend, decode, encode, seq_from_sql, seq_to_sql};
use crate::engine::audit::{AuditRecord, ChainVerifier};
use crate::engine::store::{ExportItems, StoreError, StoreItem, StoreSummary};
use postgres::{GenericClient, Row};

/// Rows fetched per round trip from a cursor.
const FETCH: usize = 1000;

/// Every table the schema holds, so `is_empty` and the read-back miss none.
const TABLES: [&str; 10] = [
    "initialised",
    "authorities",
    "settings",
    "certificates",
    "revoked",
    "crl_numbers",
    "credentials",
    "tokens",
    "audit",
    "audit_head",
];

/// One table's rows as `StoreItem`s, in key order (COLLATE "C": byte order, as sled's keys).
struct Stage {
    sql: &'static str,
    item: fn(&Row) -> Result<StoreItem, StoreError>,
}

const STAGES: [Stage; 9] = [
    Stage {
        sql: "SELECT 1 FROM initialised",
        item: |_| Ok(StoreItem::Initialised),
    },
    Stage {
        sql: r#"SELECT body FROM authorities ORDER BY id COLLATE "C""#,
        item: |row| Ok(StoreItem::Authority(decode(row.get(0), "authority")?)),
    },
    Stage {
        sql: r#"SELECT key, value FROM settings ORDER BY key COLLATE "C""#,
        item: |row| {
            Ok(StoreItem::Setting {
                key: row.get(0),
                value: row.get(1),
            })
        },
    },
    Stage {
        sql: "SELECT body FROM certificates ORDER BY serial",
        item: |row| Ok(StoreItem::Certificate(decode(row.get(0), "certificate")?)),
    },
    Stage {
        sql: r#"SELECT issuer_ca, serial, body FROM revoked ORDER BY issuer_ca COLLATE "C", serial"#,
        item: |row| {
            Ok(StoreItem::Revoked {
                issuer_ca: row.get(0),
                serial: row.get(1),
                revocation: decode(row.get(2), "revocation")?,
            })
        },
    },
    Stage {
        sql: r#"SELECT issuer_ca, last FROM crl_numbers ORDER BY issuer_ca COLLATE "C""#,
        item: |row| {
            let last: i64 = row.get(1);
            Ok(StoreItem::CrlNumber {
                issuer_ca: row.get(0),
                last: u64::try_from(last)
                    .map_err(|_| StoreError::Corrupt(format!("CRL number {last}")))?,
            })
        },
    },
    Stage {
        sql: r#"SELECT body FROM credentials ORDER BY id COLLATE "C""#,
        item: |row| Ok(StoreItem::Credential(decode(row.get(0), "credential")?)),
    },
    Stage {
        sql: r#"SELECT body FROM tokens ORDER BY id COLLATE "C""#,
        item: |row| Ok(StoreItem::Token(decode(row.get(0), "token")?)),
    },
    Stage {
        sql: "SELECT body FROM audit ORDER BY seq",
        item: |row| Ok(StoreItem::Audit(decode(row.get(0), "audit record")?)),
    },
];

/// The export: one connection holding a READ ONLY, REPEATABLE READ transaction (one snapshot
/// for every table), each table read through a cursor `FETCH` at a time.
struct Export<'a> {
    pool: &'a Pool,
    client: Option<super::Conn>,
    stage: usize,
    rows: std::vec::IntoIter<Row>,
    /// Read with the snapshot's first statement, yielded last.
    head: Option<StoreItem>,
    failed: bool,
}

impl Export<'_> {
    fn advance(&mut self) -> Result<Option<StoreItem>, StoreError> {
        loop {
            if let Some(row) = self.rows.next() {
                return (STAGES[self.stage].item)(&row).map(Some);
            }
            let Some(client) = self.client.as_mut() else {
                return Ok(None);
            };
            if self.stage < STAGES.len() {
                let rows = client
                    .query(&format!("FETCH {FETCH} FROM export"), &[])
                    .map_err(backend)?;
                if !rows.is_empty() {
                    self.rows = rows.into_iter();
                    continue;
                }
                client.batch_execute("CLOSE export").map_err(backend)?;
                self.stage += 1;
            }
            if let Some(stage) = STAGES.get(self.stage) {
                client
                    .batch_execute(&format!(
                        "DECLARE export NO SCROLL CURSOR FOR {}",
                        stage.sql
                    ))
                    .map_err(backend)?;
                continue;
            }
            // Every table read: end the snapshot, give the connection back.
            if let Some(mut client) = self.client.take() {
                let committed = client.batch_execute("COMMIT").map_err(backend);
                self.pool.put(client, &committed);
                committed?;
            }
            return Ok(self.head.take());
        }
    }
}

impl Iterator for Export<'_> {
    type Item = Result<StoreItem, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.advance().transpose();
        if matches!(next, Some(Err(_))) {
            self.failed = true;
        }
        next
    }
}

impl Drop for Export<'_> {
    fn drop(&mut self) {
        // Abandoned part way: end the transaction before the connection is reused.
        if let Some(mut client) = self.client.take() {
            let rolled_back = client.batch_execute("ROLLBACK").map_err(backend);
            if rolled_back.is_ok() {
                self.pool.put(client, &rolled_back);
            }
        }
    }
}

impl PgStore {
    pub(super) fn copy_is_empty(&self) -> Result<bool, StoreError> {
        self.pool.read(is_empty)
    }

    pub(super) fn copy_export(&self) -> Result<ExportItems<'_>, StoreError> {
        // A pooled connection that died idle fails the first statement: the copy is refused
        // and can be run again.
        let (mut client, _) = self.pool.get()?;
        // The snapshot is taken by the first query after BEGIN (the head's): every later read,
        // each table's cursor, sees the same moment.
        let head = client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .and_then(|()| client.query_opt("SELECT seq, hash FROM audit_head", &[]))
            .and_then(|head| {
                let first = STAGES[0].sql;
                client.batch_execute(&format!("DECLARE export NO SCROLL CURSOR FOR {first}"))?;
                Ok(head)
            })
            .map_err(backend)?
            .map(|row| {
                Ok::<_, StoreError>(StoreItem::AuditHead((
                    seq_from_sql(row.get(0))?,
                    row.get::<_, String>(1),
                )))
            })
            .transpose()?;
        let export = Export {
            pool: &self.pool,
            client: Some(client),
            stage: 0,
            rows: Vec::new().into_iter(),
            head,
            failed: false,
        };
        Ok(Box::new(export))
    }

    pub(super) fn copy_import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        // Under the chain lock, so no instance on this database initialises or appends while
        // the copy goes in; one transaction, so a failure leaves the tables as they were.
        self.pool.transaction(false, |tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
                .map_err(backend)?;
            if !is_empty(tx)? {
                return Err(StoreError::NotEmpty);
            }
            let mut written = StoreSummary::default();
            let mut batch = Batch::default();
            for item in items {
                let item = item?;
                batch.add(tx, &item)?;
                written.add(&item);
            }
            batch.flush(tx)?;
            written.arrived(&read_back(tx)?)?;
            Ok(written)
        })
    }
}

fn is_empty(client: &mut impl GenericClient) -> Result<bool, StoreError> {
    let any = TABLES
        .iter()
        .map(|t| format!("EXISTS (SELECT 1 FROM {t})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let row = client
        .query_one(&format!("SELECT NOT ({any})"), &[])
        .map_err(backend)?;
    Ok(row.get(0))
}

/// The tables rows are inserted into in batches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Authorities,
    Settings,
    Certificates,
    Revoked,
    CrlNumbers,
    Credentials,
    Tokens,
    Audit,
}

/// Rows waiting to be inserted, all of one kind, as columns: one `INSERT … SELECT FROM unnest`
/// per [`FETCH`] rows instead of a round trip per row (a million certificates are a thousand
/// statements).
#[derive(Default)]
struct Batch {
    /// The table of the rows held.
    table: Option<Table>,
    rows: usize,
    text: [Vec<String>; 2],
    bytes: [Vec<Vec<u8>>; 2],
    ints: Vec<i64>,
}

impl Batch {
    /// Queues `item`, inserting what is queued first when it is of another kind or full; the
    /// marker and the head (one row each) go in at once.
    fn add(&mut self, tx: &mut impl GenericClient, item: &StoreItem) -> Result<(), StoreError> {
        let table = match item {
            StoreItem::Initialised => {
                return tx
                    .execute("INSERT INTO initialised DEFAULT VALUES", &[])
                    .map(drop)
                    .map_err(backend);
            }
            StoreItem::AuditHead((seq, hash)) => {
                // After the last audit rows, whose batch goes in first.
                self.flush(tx)?;
                return tx
                    .execute(
                        "INSERT INTO audit_head (one, seq, hash) VALUES (true, $1, $2)",
                        &[&seq_to_sql(*seq)?, hash],
                    )
                    .map(drop)
                    .map_err(backend);
            }
            StoreItem::Authority(_) => Table::Authorities,
            StoreItem::Setting { .. } => Table::Settings,
            StoreItem::Certificate(_) => Table::Certificates,
            StoreItem::Revoked { .. } => Table::Revoked,
            StoreItem::CrlNumber { .. } => Table::CrlNumbers,
            StoreItem::Credential(_) => Table::Credentials,
            StoreItem::Token(_) => Table::Tokens,
            StoreItem::Audit(_) => Table::Audit,
        };
        if self.table != Some(table) || self.rows >= FETCH {
            self.flush(tx)?;
        }
        self.table = Some(table);
        let [t0, t1] = &mut self.text;
        let [b0, b1] = &mut self.bytes;
        match item {
            // Inserted above.
            StoreItem::Initialised | StoreItem::AuditHead(_) => {}
            StoreItem::Authority(r) => {
                t0.push(r.id.clone());
                b0.push(encode(r)?);
            }
            StoreItem::Setting { key, value } => {
                t0.push(key.clone());
                b0.push(value.clone());
            }
            StoreItem::Certificate(r) => {
                if r.issuer_ca.contains('\0') {
                    return Err(StoreError::InvalidCaId(r.issuer_ca.clone()));
                }
                t0.push(r.issuer_ca.clone());
                b0.push(r.serial.clone());
                b1.push(encode(r)?);
            }
            StoreItem::Revoked {
                issuer_ca,
                serial,
                revocation,
            } => {
                t0.push(issuer_ca.clone());
                b0.push(serial.clone());
                b1.push(encode(revocation)?);
            }
            StoreItem::CrlNumber { issuer_ca, last } => {
                t0.push(issuer_ca.clone());
                self.ints.push(i64::try_from(*last).map_err(|_| {
                    StoreError::Corrupt(format!("CRL number {last} of {issuer_ca}"))
                })?);
            }
            StoreItem::Credential(r) => {
                t0.push(r.id.clone());
                t1.push(r.owner.clone());
                b0.push(r.serial.clone());
                b1.push(encode(r)?);
            }
            StoreItem::Token(r) => {
                t0.push(r.id.clone());
                b0.push(encode(r)?);
            }
            StoreItem::Audit(r) => {
                self.ints.push(seq_to_sql(r.seq)?);
                b0.push(encode(r)?);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Inserts what is queued.
    fn flush(&mut self, tx: &mut impl GenericClient) -> Result<(), StoreError> {
        let Some(table) = self.table.filter(|_| self.rows > 0) else {
            return Ok(());
        };
        let [t0, t1] = &self.text;
        let [b0, b1] = &self.bytes;
        let ints = &self.ints;
        let done = match table {
            Table::Authorities => tx.execute(
                "INSERT INTO authorities (id, body) SELECT * FROM unnest($1::text[], $2::bytea[])",
                &[t0, b0],
            ),
            Table::Settings => tx.execute(
                "INSERT INTO settings (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])",
                &[t0, b0],
            ),
            Table::Certificates => tx.execute(
                "INSERT INTO certificates (issuer_ca, serial, body)
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])",
                &[t0, b0, b1],
            ),
            Table::Revoked => tx.execute(
                "INSERT INTO revoked (issuer_ca, serial, body)
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])",
                &[t0, b0, b1],
            ),
            Table::CrlNumbers => tx.execute(
                "INSERT INTO crl_numbers (issuer_ca, last)
                 SELECT * FROM unnest($1::text[], $2::bigint[])",
                &[t0, ints],
            ),
            Table::Credentials => tx.execute(
                "INSERT INTO credentials (id, owner, serial, body)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[])",
                &[t0, t1, b0, b1],
            ),
            Table::Tokens => tx.execute(
                "INSERT INTO tokens (id, body) SELECT * FROM unnest($1::text[], $2::bytea[])",
                &[t0, b0],
            ),
            Table::Audit => tx.execute(
                "INSERT INTO audit (seq, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                &[ints, b0],
            ),
        };
        let inserted = done.map_err(backend)?;
        if usize::try_from(inserted).ok() != Some(self.rows) {
            return Err(StoreError::Corrupt(format!(
                "inserted {inserted} of {} rows",
                self.rows
            )));
        }
        *self = Batch::default();
        Ok(())
    }
}

/// What the transaction holds, counted, with its audit chain verified against its head (read
/// through a cursor, so a long log is never all in memory).
fn read_back(tx: &mut impl GenericClient) -> Result<StoreSummary, StoreError> {
    let counts = TABLES
        .iter()
        .map(|t| format!("(SELECT count(*) FROM {t})"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = tx
        .query_one(&format!("SELECT {counts}"), &[])
        .map_err(backend)?;
    let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    let audit_head = tx
        .query_opt("SELECT seq, hash FROM audit_head", &[])
        .map_err(backend)?
        .map(|row| Ok::<_, StoreError>((seq_from_sql(row.get(0))?, row.get::<_, String>(1))))
        .transpose()?;
    let copied = |e| StoreError::Corrupt(format!("the copied audit log: {e}"));
    let mut chain = ChainVerifier::new(None);
    tx.batch_execute("DECLARE read_back NO SCROLL CURSOR FOR SELECT body FROM audit ORDER BY seq")
        .map_err(backend)?;
    loop {
        let rows = tx
            .query(&format!("FETCH {FETCH} FROM read_back"), &[])
            .map_err(backend)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let record: AuditRecord = decode(row.get(0), "audit record")?;
            chain.push(&record).map_err(copied)?;
        }
    }
    tx.batch_execute("CLOSE read_back").map_err(backend)?;
    let head = audit_head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
    let verified = chain.finish(head).map_err(copied)?;
    Ok(StoreSummary {
        initialised: count(0) > 0,
        authorities: count(1),
        settings: count(2),
        certificates: count(3),
        revoked: count(4),
        crl_numbers: count(5),
        credentials: count(6),
        tokens: count(7),
        audit_records: verified.records,
        audit_head,
    })
}
