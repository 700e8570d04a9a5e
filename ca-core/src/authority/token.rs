//! API tokens (bearer credentials for the signing service): `hpki_<id>_<secret>`.
//!
//! * `id`: 16 random octets in lowercase hex, the public lookup key (it may appear in logs, audit
//!   records and errors);
//! * `secret`: 32 random octets (256 bits) in lowercase hex, shown once at creation. Only its
//!   SHA-256 is stored: with 256 bits of entropy no slow password hash is needed, and a stolen
//!   store yields no usable token.
//!
//! Verification compares digests in constant time with `subtle` (`ConstantTimeEq`, the
//! dalek-cryptography crate already in the tree through RustCrypto): no early exit, so the time
//! does not depend on how long a prefix matches. ring 0.17's `constant_time::verify_slices_are_equal`
//! is deprecated ("internal function … no promises regarding side channels"). Comparing digests
//! rather than secrets also means a timing difference could only reveal bits of the hash of the
//! attacker's own guess, which is worthless without a preimage.

use crate::engine::audit::{AuditAction, AuditEvent};
use crate::engine::authority::Authority;
use crate::engine::store::{Store, StoreError, TokenRecord, TokenScope};
use ring::digest;
use std::fmt;
use zeroize::Zeroizing;

/// Every token string starts with this (lets secret scanners recognise leaked tokens).
pub const TOKEN_PREFIX: &str = "hpki_";
/// Longest input `verify` parses; a real token is 102 characters.
pub const MAX_TOKEN_LEN: usize = 200;
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 32;
const DIGEST_LEN: usize = 32;

/// A token string, shown to its holder once. `Debug` shows the id only; use [`ApiToken::expose`]
/// to hand the string over. Zeroized on drop.
pub struct ApiToken {
    id: String,
    token: Zeroizing<String>,
    expires_at: u64,
}

impl ApiToken {
    /// The public id (also `TokenRecord::id`).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The whole token string `hpki_<id>_<secret>`, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.token
    }
    /// Unix time from which it no longer verifies.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a token was refused. No variant carries the secret or the presented string.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not `hpki_<id>_<secret>` of the right lengths and alphabet.
    #[error("malformed API token")]
    Malformed,
    /// An unknown id or a wrong secret: one error, with one message, so an answer never tells
    /// which token ids exist; `cause` is for logs and metrics only.
    #[error("API token not recognised")]
    Unrecognised {
        /// The id the token named.
        id: String,
        /// Which check failed (never shown to the caller).
        cause: Unrecognised,
    },
    /// Past its expiry (the token id).
    #[error("API token {0} has expired")]
    Expired(String),
    /// Revoked (the token id).
    #[error("API token {0} is revoked")]
    Revoked(String),
    /// A token request out of bounds (lifetime, scope).
    #[error("invalid token request: {0}")]
    Invalid(String),
    /// Only a registration-authority token creates tokens (the token id).
    #[error("API token {0} may not create tokens: only a registration-authority token does")]
    NotRa(String),
    /// The system's randomness failed.
    #[error("no randomness available for a token")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a well-formed token was not recognised (see [`TokenError::Unrecognised`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecognised {
    /// No token has this id.
    UnknownId,
    /// The id exists; the secret is not its secret.
    WrongSecret,
}

impl Unrecognised {
    /// A stable name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownId => "unknown_id",
            Self::WrongSecret => "wrong_secret",
        }
    }
}

impl TokenError {
    fn unrecognised(id: &str, cause: Unrecognised) -> Self {
        Self::Unrecognised {
            id: id.to_owned(),
            cause,
        }
    }
}

/// Makes a new token valid from `now` for `lifetime` seconds: the string to show once, and the
/// record to store (which holds only the secret's hash).
pub fn issue_token(
    scope: TokenScope,
    now: u64,
    lifetime: u64,
) -> Result<(ApiToken, TokenRecord), TokenError> {
    if lifetime == 0 {
        return Err(TokenError::Invalid(
            "lifetime must be at least one second".into(),
        ));
    }
    let expires_at = now
        .checked_add(lifetime)
        .ok_or_else(|| TokenError::Invalid("lifetime overflows the clock".into()))?;
    if let TokenScope::Signer { practitioner } = &scope
        && practitioner.is_empty()
    {
        return Err(TokenError::Invalid(
            "signer scope needs a practitioner".into(),
        ));
    }
    let id_bytes: [u8; ID_LEN] =
        crate::engine::seal::Sealer::random_bytes().map_err(|_| TokenError::Random)?;
    let secret = Zeroizing::new(
        crate::engine::seal::Sealer::random_bytes::<SECRET_LEN>()
            .map_err(|_| TokenError::Random)?,
    );
    let id = hex::encode(id_bytes);
    let mut token = Zeroizing::new(String::with_capacity(
        TOKEN_PREFIX.len() + 2 * ID_LEN + 1 + 2 * SECRET_LEN,
    ));
    token.push_str(TOKEN_PREFIX);
    token.push_str(&id);
    token.push('_');
    token.push_str(&Zeroizing::new(hex::encode(secret.as_slice())));
    let record = TokenRecord {
        id: id.clone(),
        secret_hash: hex::encode(digest::digest(&digest::SHA256, secret.as_slice())),
        scope,
        created_at: now,
        expires_at,
        revoked: false,
    };
    Ok((
        ApiToken {
            id,
            token,
            expires_at,
        },
        record,
    ))
}

/// Checks a presented token at `now` and returns what it may do. The secret is checked before
/// revocation and expiry, so only its holder learns those.
pub fn verify<S: Store + ?Sized>(
    store: &S,
    presented: &str,
    now: u64,
) -> Result<TokenScope, TokenError> {
    let (id, secret) = parse(presented)?;
    // Hashed before the lookup, so an unknown id costs what a wrong secret does (the answer is
    // the same too: `Unrecognised`).
    let presented_digest = digest::digest(&digest::SHA256, secret.as_slice());
    let record = store
        .token(id)?
        .ok_or_else(|| TokenError::unrecognised(id, Unrecognised::UnknownId))?;
    let stored: [u8; DIGEST_LEN] = hex::decode(&record.secret_hash)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| {
            StoreError::Corrupt(format!("token {id}: secret hash is not SHA-256 hex"))
        })?;
    if !bool::from(digests_equal(&stored, presented_digest.as_ref())) {
        return Err(TokenError::unrecognised(id, Unrecognised::WrongSecret));
    }
    if record.revoked {
        return Err(TokenError::Revoked(id.to_owned()));
    }
    if now >= record.expires_at {
        return Err(TokenError::Expired(id.to_owned()));
    }
    Ok(record.scope)
}

/// Splits `hpki_<32 hex>_<64 hex>` into the id and the decoded secret.
fn parse(presented: &str) -> Result<(&str, Zeroizing<[u8; SECRET_LEN]>), TokenError> {
    if presented.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let rest = presented
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::Malformed)?;
    let (id, secret_hex) = rest.split_once('_').ok_or(TokenError::Malformed)?;
    let lower_hex = |s: &str, len: usize| {
        s.len() == 2 * len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !lower_hex(id, ID_LEN) || !lower_hex(secret_hex, SECRET_LEN) {
        return Err(TokenError::Malformed);
    }
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    hex::decode_to_slice(secret_hex, secret.as_mut()).map_err(|_| TokenError::Malformed)?;
    Ok((id, secret))
}

/// Constant-time equality of two SHA-256 digests. Returning `subtle::Choice` keeps the result
/// out of branches until the caller decides (see the module comment).
fn digests_equal(a: &[u8; DIGEST_LEN], b: &[u8]) -> subtle::Choice {
    use subtle::ConstantTimeEq;
    // A length mismatch is public (digests are fixed-length), so it may return early.
    if b.len() != DIGEST_LEN {
        return subtle::Choice::from(0);
    }
    a.as_slice().ct_eq(b)
}

fn scope_details(scope: &TokenScope) -> Vec<(String, String)> {
    match scope {
        TokenScope::Ra => vec![("scope".to_owned(), "ra".to_owned())],
        TokenScope::Signer { practitioner } => vec![
            ("scope".to_owned(), "signer".to_owned()),
            ("practitioner".to_owned(), practitioner.clone()),
        ],
    }
}

impl<S: Store> Authority<S> {
    /// Creates a token for `scope`, valid `lifetime` seconds from `now`, and records it (hash
    /// only) with its audit event in one durable write. The returned string is the only copy.
    pub fn create_token(
        &self,
        scope: TokenScope,
        lifetime: u64,
        now: u64,
        actor: &str,
    ) -> Result<ApiToken, TokenError> {
        self.store_token(scope, lifetime, now, actor, Vec::new())
    }

    /// Creates a token on behalf of the token `minter` (its public id): only an RA token that
    /// still verifies mints, `lifetime` may not exceed `max_lifetime` (the installation's
    /// maximum), and the new token never outlives its minter, so a leaked token cannot extend
    /// itself.
    pub fn mint_token(
        &self,
        minter: &str,
        scope: TokenScope,
        lifetime: u64,
        max_lifetime: u64,
        now: u64,
        actor: &str,
    ) -> Result<ApiToken, TokenError> {
        let record = self
            .store
            .token(minter)?
            .ok_or_else(|| TokenError::unrecognised(minter, Unrecognised::UnknownId))?;
        if record.revoked {
            return Err(TokenError::Revoked(minter.to_owned()));
        }
        if now >= record.expires_at {
            return Err(TokenError::Expired(minter.to_owned()));
        }
        if record.scope != TokenScope::Ra {
            return Err(TokenError::NotRa(minter.to_owned()));
        }
        if lifetime > max_lifetime {
            return Err(TokenError::Invalid(format!(
                "lifetime {lifetime} s exceeds the configured maximum of {max_lifetime} s"
            )));
        }
        let lifetime = lifetime.min(record.expires_at - now);
        let minted_by = vec![("minted_by".to_owned(), format!("token:{minter}"))];
        self.store_token(scope, lifetime, now, actor, minted_by)
    }

    /// Every token (hashes of secrets only), ordered by id.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, TokenError> {
        Ok(self.store.tokens()?)
    }

    fn store_token(
        &self,
        scope: TokenScope,
        lifetime: u64,
        now: u64,
        actor: &str,
        extra: Vec<(String, String)>,
    ) -> Result<ApiToken, TokenError> {
        // The practitioner becomes an identity and enters the audit log: printable text of an
        // owner's length (issue 12 item 8), whichever door (API or admin CLI) mints the token.
        if let TokenScope::Signer { practitioner } = &scope {
            if practitioner.is_empty() {
                return Err(TokenError::Invalid(
                    "a signer token names its practitioner".into(),
                ));
            }
            super::credential::check_client_text(
                "practitioner",
                practitioner,
                super::credential::MAX_OWNER_LEN,
            )
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        }
        let (token, record) = issue_token(scope, now, lifetime)?;
        let mut details = scope_details(&record.scope);
        details.push(("expires_at".to_owned(), record.expires_at.to_string()));
        details.extend(extra);
        self.store.insert_token(
            &record,
            AuditEvent {
                time: now,
                actor: actor.to_owned(),
                action: AuditAction::CreateToken,
                object: format!("token:{}", record.id),
                details,
            },
        )?;
        Ok(token)
    }

    /// What a presented bearer token may do at `now`.
    pub fn authenticate(&self, token: &str, now: u64) -> Result<TokenScope, TokenError> {
        verify(&self.store, token, now)
    }

    /// Revokes token `id` (its public id, not the token string), with its audit record, in one
    /// durable write: every later `authenticate` of it fails.
    pub fn revoke_token(&self, id: &str, now: u64, actor: &str) -> Result<(), TokenError> {
        self.store.revoke_token(
            id,
            AuditEvent {
                time: now,
                actor: actor.to_owned(),
                action: AuditAction::RevokeToken,
                object: format!("token:{id}"),
                details: vec![],
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compare is subtle's `ConstantTimeEq` (the `Choice` type says so; timing is not tested,
    /// as timed unit tests are not honest on shared machines): equal digests match, and a
    /// difference at the first, a middle or the last octet does not.
    #[test]
    fn digest_compare_is_subtle_and_exact() {
        let a = [0x5au8; DIGEST_LEN];
        let equal: subtle::Choice = digests_equal(&a, &a);
        assert!(bool::from(equal));
        for at in [0, DIGEST_LEN / 2, DIGEST_LEN - 1] {
            let mut b = a;
            b[at] ^= 1;
            assert!(!bool::from(digests_equal(&a, &b)), "differs at {at}");
        }
        assert!(!bool::from(digests_equal(&a, &a[..DIGEST_LEN - 1])));
    }
}
