//! The sled side of `store::copy`: every tree streamed in `StoreItem` order, and an import
//! into empty trees that clears them again when it fails. Apart from the audit writer, so
//! that each changes on its own.

use super::{
    AUDIT_HEAD_KEY, AUDIT_TREE, AUTHORITIES_TREE, CERTIFICATES_TREE, CREDENTIAL_OWNERS_TREE,
    CREDENTIALS_TREE, CRL_NUMBERS_TREE, Head, INITIALISED_KEY, META_TREE, REVOKED_TREE,
    SETTINGS_TREE, SledStore, TOKENS_TREE, audit_key, backend, decode, encode, owner_key,
    revoked_key,
};
use crate::engine::audit::ChainVerifier;
use crate::engine::store::{ExportItems, StoreError, StoreItem, StoreSummary};

/// The trees a store holds; any other is refused by `export` (a newer release's data, which a
/// copy would silently drop). sled's own default tree is unused.
const KNOWN_TREES: [&str; 11] = [
    "__sled__default",
    CERTIFICATES_TREE,
    REVOKED_TREE,
    AUTHORITIES_TREE,
    SETTINGS_TREE,
    CRL_NUMBERS_TREE,
    AUDIT_TREE,
    META_TREE,
    CREDENTIALS_TREE,
    CREDENTIAL_OWNERS_TREE,
    TOKENS_TREE,
];

/// The meta keys a store holds.
const KNOWN_META: [&str; 2] = [AUDIT_HEAD_KEY, INITIALISED_KEY];

impl SledStore {
    fn trees(&self) -> [&sled::Tree; 10] {
        [
            &self.certificates,
            &self.revoked,
            &self.authorities,
            &self.settings,
            &self.crl_numbers,
            &self.audit,
            &self.meta,
            &self.credentials,
            &self.credential_owners,
            &self.tokens,
        ]
    }

    pub(super) fn copy_is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.trees().iter().all(|t| t.is_empty()) && self.db.is_empty())
    }

    pub(super) fn copy_export(&self) -> Result<ExportItems<'_>, StoreError> {
        for name in self.db.tree_names() {
            if !KNOWN_TREES
                .iter()
                .any(|known| known.as_bytes() == &name[..])
            {
                return Err(StoreError::Corrupt(format!(
                    "the store holds a tree this release does not know ({}): refusing to copy \
                     it only in part",
                    String::from_utf8_lossy(&name)
                )));
            }
        }
        if !self.db.is_empty() {
            return Err(StoreError::Corrupt(
                "sled's default tree holds data this release does not write".into(),
            ));
        }
        for key in self.meta.iter().keys() {
            let key = key.map_err(backend)?;
            if !KNOWN_META.iter().any(|known| known.as_bytes() == &key[..]) {
                return Err(StoreError::Corrupt(format!(
                    "unknown meta key {}",
                    String::from_utf8_lossy(&key)
                )));
            }
        }
        let initialised = self
            .meta
            .contains_key(INITIALISED_KEY)
            .map_err(backend)?
            .then_some(Ok(StoreItem::Initialised));
        let authorities = self.authorities.iter().values().map(|raw| {
            Ok(StoreItem::Authority(decode(
                &raw.map_err(backend)?,
                "authority",
            )?))
        });
        let settings = self.settings.iter().map(|entry| {
            let (key, value) = entry.map_err(backend)?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| StoreError::Corrupt("a setting name is not UTF-8".into()))?;
            Ok(StoreItem::Setting {
                key,
                value: value.to_vec(),
            })
        });
        let certificates = self.certificates.iter().values().map(|raw| {
            Ok(StoreItem::Certificate(decode(
                &raw.map_err(backend)?,
                "certificate",
            )?))
        });
        let revoked = self.revoked.iter().map(|entry| {
            let (key, value) = entry.map_err(backend)?;
            // `issuer_ca` 0x00 serial: CA ids hold no NUL, so the first one ends the id.
            let nul = key.iter().position(|b| *b == 0).ok_or_else(|| {
                StoreError::Corrupt("a revocation index key has no separator".into())
            })?;
            let issuer_ca = String::from_utf8(key[..nul].to_vec())
                .map_err(|_| StoreError::Corrupt("a revocation index CA is not UTF-8".into()))?;
            Ok(StoreItem::Revoked {
                issuer_ca,
                serial: key[nul + 1..].to_vec(),
                revocation: decode(&value, "revocation")?,
            })
        });
        let crl_numbers = self.crl_numbers.iter().map(|entry| {
            let (key, value) = entry.map_err(backend)?;
            let issuer_ca = String::from_utf8(key.to_vec())
                .map_err(|_| StoreError::Corrupt("a CRL number's CA is not UTF-8".into()))?;
            Ok(StoreItem::CrlNumber {
                issuer_ca,
                last: decode(&value, "CRL number")?,
            })
        });
        let credentials = self.credentials.iter().values().map(|raw| {
            Ok(StoreItem::Credential(decode(
                &raw.map_err(backend)?,
                "credential",
            )?))
        });
        let tokens = self
            .tokens
            .iter()
            .values()
            .map(|raw| Ok(StoreItem::Token(decode(&raw.map_err(backend)?, "token")?)));
        let audit = self.audit.iter().values().map(|raw| {
            Ok(StoreItem::Audit(decode(
                &raw.map_err(backend)?,
                "audit record",
            )?))
        });
        let head = self.meta.get(AUDIT_HEAD_KEY).map_err(backend)?.map(|raw| {
            let head: Head = decode(&raw, "audit head")?;
            Ok(StoreItem::AuditHead((head.seq, head.hash)))
        });
        Ok(Box::new(
            initialised
                .into_iter()
                .chain(authorities)
                .chain(settings)
                .chain(certificates)
                .chain(revoked)
                .chain(crl_numbers)
                .chain(credentials)
                .chain(tokens)
                .chain(audit)
                .chain(head),
        ))
    }

    pub(super) fn copy_import(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        let _chain = self.chain()?;
        if !self.copy_is_empty()? {
            return Err(StoreError::NotEmpty);
        }
        let outcome = self.write_items(items).and_then(|written| {
            self.db.flush().map_err(backend)?;
            written.arrived(&self.read_back()?)?;
            Ok(written)
        });
        if outcome.is_err() {
            // It was empty: clear what went in, so a failed copy leaves no partial store.
            for tree in self.trees() {
                let _ = tree.clear();
            }
            let _ = self.db.flush();
        }
        outcome
    }

    fn write_items(
        &self,
        items: &mut dyn Iterator<Item = Result<StoreItem, StoreError>>,
    ) -> Result<StoreSummary, StoreError> {
        let mut written = StoreSummary::default();
        for item in items {
            let item = item?;
            let insert = |tree: &sled::Tree, key: &[u8], value: &[u8]| {
                tree.insert(key, value).map(drop).map_err(backend)
            };
            match &item {
                StoreItem::Initialised => insert(&self.meta, INITIALISED_KEY.as_bytes(), &[])?,
                StoreItem::Authority(r) => {
                    insert(&self.authorities, r.id.as_bytes(), &encode(r)?)?;
                }
                StoreItem::Setting { key, value } => insert(&self.settings, key.as_bytes(), value)?,
                StoreItem::Certificate(r) => {
                    if r.issuer_ca.contains('\0') {
                        return Err(StoreError::InvalidCaId(r.issuer_ca.clone()));
                    }
                    insert(&self.certificates, &r.serial, &encode(r)?)?;
                }
                StoreItem::Revoked {
                    issuer_ca,
                    serial,
                    revocation,
                } => insert(
                    &self.revoked,
                    &revoked_key(issuer_ca, serial),
                    &encode(revocation)?,
                )?,
                StoreItem::CrlNumber { issuer_ca, last } => {
                    insert(&self.crl_numbers, issuer_ca.as_bytes(), &encode(last)?)?;
                }
                StoreItem::Credential(r) => {
                    insert(&self.credentials, r.id.as_bytes(), &encode(r)?)?;
                    insert(&self.credential_owners, &owner_key(&r.owner, &r.id), &[])?;
                }
                StoreItem::Token(r) => insert(&self.tokens, r.id.as_bytes(), &encode(r)?)?,
                StoreItem::Audit(r) => insert(&self.audit, &audit_key(r.seq), &encode(r)?)?,
                StoreItem::AuditHead((seq, hash)) => {
                    let head = Head {
                        seq: *seq,
                        hash: hash.clone(),
                    };
                    insert(&self.meta, AUDIT_HEAD_KEY.as_bytes(), &encode(&head)?)?;
                }
            }
            written.add(&item);
        }
        Ok(written)
    }

    /// What the store holds, counted, with its audit chain verified against its head.
    fn read_back(&self) -> Result<StoreSummary, StoreError> {
        let count = |tree: &sled::Tree| tree.len() as u64;
        // Under the import's chain guard: `audit_head` would wait for that guard.
        let audit_head = self.stored_audit_head()?;
        let mut chain = ChainVerifier::new(None);
        for raw in self.audit.iter().values() {
            chain
                .push(&decode(&raw.map_err(backend)?, "audit record")?)
                .map_err(|e| StoreError::Corrupt(format!("the copied audit log: {e}")))?;
        }
        let head = audit_head.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
        let verified = chain
            .finish(head)
            .map_err(|e| StoreError::Corrupt(format!("the copied audit log: {e}")))?;
        Ok(StoreSummary {
            initialised: self.meta.contains_key(INITIALISED_KEY).map_err(backend)?,
            authorities: count(&self.authorities),
            settings: count(&self.settings),
            certificates: count(&self.certificates),
            revoked: count(&self.revoked),
            crl_numbers: count(&self.crl_numbers),
            credentials: count(&self.credentials),
            tokens: count(&self.tokens),
            audit_records: verified.records,
            audit_head,
        })
    }
}
