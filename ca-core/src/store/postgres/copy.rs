//! The PostgreSQL side of `store::copy`: an export that reads one REPEATABLE READ snapshot
//! through server-side cursors (bounded memory however large the store), and an import in one
//! transaction. Apart from the audit writer, so that each changes on its own.

use super::{CHAIN_LOCK, PgStore, Pool, backend, decode, encode, seq_from_sql, seq_to_sql};
use crate::engine::audit::{AuditRecord, ChainVerifier};
use crate::engine::store::{ExportItems, StoreError, StoreItem, StoreSummary};
use postgres::{Client, GenericClient, Row};

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
    client: Option<Client>,
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
            for item in items {
                let item = item?;
                insert(tx, &item)?;
                written.add(&item);
            }
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

fn insert(tx: &mut impl GenericClient, item: &StoreItem) -> Result<(), StoreError> {
    let done = match item {
        StoreItem::Initialised => tx.execute("INSERT INTO initialised DEFAULT VALUES", &[]),
        StoreItem::Authority(r) => tx.execute(
            "INSERT INTO authorities (id, body) VALUES ($1, $2)",
            &[&r.id, &encode(r)?],
        ),
        StoreItem::Setting { key, value } => tx.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)",
            &[key, value],
        ),
        StoreItem::Certificate(r) => {
            if r.issuer_ca.contains('\0') {
                return Err(StoreError::InvalidCaId(r.issuer_ca.clone()));
            }
            tx.execute(
                "INSERT INTO certificates (serial, issuer_ca, body) VALUES ($1, $2, $3)",
                &[&r.serial, &r.issuer_ca, &encode(r)?],
            )
        }
        StoreItem::Revoked {
            issuer_ca,
            serial,
            revocation,
        } => tx.execute(
            "INSERT INTO revoked (issuer_ca, serial, body) VALUES ($1, $2, $3)",
            &[issuer_ca, serial, &encode(revocation)?],
        ),
        StoreItem::CrlNumber { issuer_ca, last } => {
            let last = i64::try_from(*last)
                .map_err(|_| StoreError::Corrupt(format!("CRL number {last} of {issuer_ca}")))?;
            tx.execute(
                "INSERT INTO crl_numbers (issuer_ca, last) VALUES ($1, $2)",
                &[issuer_ca, &last],
            )
        }
        StoreItem::Credential(r) => tx.execute(
            "INSERT INTO credentials (id, owner, serial, body) VALUES ($1, $2, $3, $4)",
            &[&r.id, &r.owner, &r.serial, &encode(r)?],
        ),
        StoreItem::Token(r) => tx.execute(
            "INSERT INTO tokens (id, body) VALUES ($1, $2)",
            &[&r.id, &encode(r)?],
        ),
        StoreItem::Audit(r) => tx.execute(
            "INSERT INTO audit (seq, body) VALUES ($1, $2)",
            &[&seq_to_sql(r.seq)?, &encode(r)?],
        ),
        StoreItem::AuditHead((seq, hash)) => tx.execute(
            "INSERT INTO audit_head (one, seq, hash) VALUES (true, $1, $2)",
            &[&seq_to_sql(*seq)?, hash],
        ),
    };
    done.map(drop).map_err(backend)
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
