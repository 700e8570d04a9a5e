//! API tokens: format, hash-only storage, verification outcomes, audit, and that no secret ever
//! shows in `Debug`, errors or audit records.

use crate::support::credential::*;
use ca_core::audit::AuditAction;
use ca_core::store::audit_verify;
use ca_core::store::{Store, StoreError, TokenScope};
use ca_core::token::{self, ApiToken, MAX_TOKEN_LEN, TOKEN_PREFIX, TokenError, Unrecognised};

fn signer(p: &str) -> TokenScope {
    TokenScope::Signer {
        practitioner: p.into(),
    }
}

const HOUR: u64 = 3_600;

/// A stored signer token of practitioner "dr", made at [`NOW`] for an hour.
fn dr_token(env: &Env) -> ApiToken {
    env.authority
        .create_token(signer("dr"), HOUR, NOW, "cli")
        .unwrap()
}

/// The secret part of a token string.
fn secret_of(token: &str) -> &str {
    token.rsplit('_').next().unwrap()
}

#[test]
fn format_and_hash_only_storage() {
    let (tok, record) = token::issue_token(signer("dr"), NOW, HOUR).unwrap();
    let s = tok.expose();
    assert!(s.starts_with(TOKEN_PREFIX), "{s}");
    let parts: Vec<&str> = s[TOKEN_PREFIX.len()..].split('_').collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].len(), 32, "16-octet id in hex");
    assert_eq!(parts[1].len(), 64, "32-octet (256-bit) secret in hex");
    assert!(s.len() <= MAX_TOKEN_LEN);
    assert_eq!(record.id, parts[0]);
    assert_eq!(tok.id(), parts[0]);
    let secret = hex::decode(parts[1]).unwrap();
    assert_eq!(
        record.secret_hash,
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &secret))
    );
    assert!(!record.secret_hash.contains(parts[1]));
    assert_eq!(record.created_at, NOW);
    assert_eq!(record.expires_at, NOW + HOUR);
    assert!(!record.revoked);
    assert_eq!(record.scope, signer("dr"));

    // Fresh randomness each time.
    let (other, _) = token::issue_token(signer("dr"), NOW, HOUR).unwrap();
    assert_ne!(other.expose(), tok.expose());
    assert_ne!(other.id(), tok.id());
}

#[test]
fn debug_redacts_the_secret() {
    let (tok, record) = token::issue_token(TokenScope::Ra, NOW, HOUR).unwrap();
    let debug = format!("{tok:?} {record:?}");
    assert!(!debug.contains(secret_of(tok.expose())), "{debug}");
    // Nor the stored hash, which would allow offline guessing.
    assert!(!debug.contains(&record.secret_hash), "{debug}");
    assert!(debug.contains(tok.id()));
    assert!(debug.contains("redacted"));
}

#[test]
fn authority_round_trip_and_audit() {
    let env = env();
    let before = audit_len(&env);
    let tok = env
        .authority
        .create_token(signer("dr-sato"), HOUR, NOW, "cli:admin")
        .unwrap();
    assert_eq!(
        env.authority.authenticate(tok.expose(), NOW).unwrap(),
        signer("dr-sato")
    );
    assert_eq!(
        env.authority
            .authenticate(tok.expose(), NOW + HOUR - 1)
            .unwrap(),
        signer("dr-sato")
    );
    let ra = env
        .authority
        .create_token(TokenScope::Ra, HOUR, NOW, "cli:admin")
        .unwrap();
    assert_eq!(
        token::verify(env.authority.store(), ra.expose(), NOW).unwrap(),
        TokenScope::Ra
    );
    // Also through a trait object.
    let dyn_store: &dyn Store = env.authority.store();
    assert_eq!(
        token::verify(dyn_store, ra.expose(), NOW).unwrap(),
        TokenScope::Ra
    );

    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(log.len(), before + 2);
    let event = &log[before].event;
    assert_eq!(event.action, AuditAction::CreateToken);
    assert_eq!(event.object, format!("token:{}", tok.id()));
    assert_eq!(event.actor, "cli:admin");
    assert!(event.details.contains(&("scope".into(), "signer".into())));
    assert!(
        event
            .details
            .contains(&("practitioner".into(), "dr-sato".into()))
    );
    assert!(
        event
            .details
            .contains(&("expires_at".into(), (NOW + HOUR).to_string()))
    );
    for record in &log {
        let text = format!("{record:?}");
        assert!(!text.contains(secret_of(tok.expose())));
        assert!(!text.contains(secret_of(ra.expose())));
    }
    audit_verify(env.authority.store()).unwrap();
}

#[test]
fn expired_at_and_after_expiry() {
    let env = env();
    let tok = dr_token(&env);
    for now in [NOW + HOUR, NOW + 10 * HOUR] {
        let err = env.authority.authenticate(tok.expose(), now).unwrap_err();
        assert!(
            matches!(&err, TokenError::Expired(id) if id == tok.id()),
            "{err}"
        );
    }
}

#[test]
fn revoked_token_is_refused_and_audited() {
    let env = env();
    let tok = dr_token(&env);
    let before = audit_len(&env);
    env.authority
        .revoke_token(tok.id(), NOW + 1, "cli:admin")
        .unwrap();
    let log = env.authority.store().audit_log().unwrap();
    assert_eq!(log.len(), before + 1);
    let event = &log.last().unwrap().event;
    assert_eq!(event.action, AuditAction::RevokeToken);
    assert_eq!(event.object, format!("token:{}", tok.id()));
    let err = env
        .authority
        .authenticate(tok.expose(), NOW + 2)
        .unwrap_err();
    assert!(
        matches!(&err, TokenError::Revoked(id) if id == tok.id()),
        "{err}"
    );

    // Revoking again, or an unknown id, writes nothing.
    let before = audit_len(&env);
    let err = env
        .authority
        .revoke_token(tok.id(), NOW, "cli")
        .unwrap_err();
    assert!(
        matches!(err, TokenError::Store(StoreError::TokenAlreadyRevoked(_))),
        "{err}"
    );
    let err = env.authority.revoke_token("nope", NOW, "cli").unwrap_err();
    assert!(
        matches!(err, TokenError::Store(StoreError::TokenNotFound(_))),
        "{err}"
    );
    assert_eq!(audit_len(&env), before);
}

#[test]
fn wrong_secret_is_a_mismatch_even_when_revoked_or_expired() {
    let env = env();
    let tok = dr_token(&env);
    let s = tok.expose();
    // Flip the last secret character.
    let last = s.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &s[..s.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let err = env.authority.authenticate(&flipped, NOW).unwrap_err();
    assert!(
        matches!(&err, TokenError::Unrecognised { id, cause: Unrecognised::WrongSecret } if id == tok.id()),
        "{err}"
    );
    // Expired or revoked tokens do not reveal that to a wrong secret.
    let wrong_secret = |at| {
        let err = env.authority.authenticate(&flipped, at).unwrap_err();
        let cause = matches!(
            err,
            TokenError::Unrecognised {
                cause: Unrecognised::WrongSecret,
                ..
            }
        );
        assert!(cause, "{err}");
    };
    wrong_secret(NOW + 2 * HOUR);
    env.authority.revoke_token(tok.id(), NOW, "cli").unwrap();
    wrong_secret(NOW);
}

#[test]
fn unknown_id() {
    let env = env();
    let (tok, _) = token::issue_token(signer("dr"), NOW, HOUR).unwrap(); // never stored
    let err = env.authority.authenticate(tok.expose(), NOW).unwrap_err();
    assert!(
        matches!(&err, TokenError::Unrecognised { id, cause: Unrecognised::UnknownId } if id == tok.id()),
        "{err}"
    );
    // Worded as a wrong secret is, without the id: the message never tells which ids exist.
    let stored = dr_token(&env);
    let s = stored.expose();
    let flipped = format!(
        "{}{}",
        &s[..s.len() - 1],
        if s.ends_with('0') { '1' } else { '0' }
    );
    let wrong = env.authority.authenticate(&flipped, NOW).unwrap_err();
    assert_eq!(err.to_string(), wrong.to_string());
    assert!(!err.to_string().contains(tok.id()), "{err}");
}

#[test]
fn malformed_tokens() {
    let env = env();
    let tok = dr_token(&env);
    let good = tok.expose();
    let id = tok.id();
    let secret = secret_of(good);
    let cases = [
        String::new(),
        "hpki_".into(),
        "hpki__".into(),
        format!("Bearer {good}"),
        format!(" {good}"),
        format!("{good} "),
        format!("{good}0"),
        good[..good.len() - 1].to_owned(),
        good.to_uppercase(),
        format!("HPKI_{id}_{secret}"),
        format!("hpki-{id}_{secret}"),
        format!("hpki_{id}-{secret}"),
        format!("hpki_{id}_{secret}_"),
        format!("hpki_{id}{secret}"),
        format!("hpki_{}_{secret}", id.to_uppercase()),
        format!("hpki_{id}_{}", secret.replacen(|_| true, "g", 1)),
        format!("hpki_{id}_{}", "é".repeat(32)),
        format!("{good}{}", "a".repeat(MAX_TOKEN_LEN)),
        "x".repeat(1_000_000),
    ];
    for case in &cases {
        let err = env.authority.authenticate(case, NOW).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed),
            "{:?}: {err}",
            &case[..case.len().min(80)]
        );
    }
}

#[test]
fn errors_never_show_the_secret() {
    let env = env();
    let tok = dr_token(&env);
    let secret = secret_of(tok.expose()).to_owned();
    let mut errors = vec![
        env.authority
            .authenticate(tok.expose(), NOW + HOUR)
            .unwrap_err(),
        env.authority
            .authenticate(&format!("{}x", tok.expose()), NOW)
            .unwrap_err(),
    ];
    let mut bad = tok.expose().to_owned();
    bad.replace_range(bad.len() - 2.., "00");
    if bad != tok.expose() {
        errors.push(env.authority.authenticate(&bad, NOW).unwrap_err());
    }
    env.authority.revoke_token(tok.id(), NOW, "cli").unwrap();
    errors.push(env.authority.authenticate(tok.expose(), NOW).unwrap_err());
    for err in errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(&secret), "{text}");
            assert!(!text.contains(&secret[..16]), "{text}");
        }
    }
}

#[test]
fn invalid_requests() {
    assert!(matches!(
        token::issue_token(TokenScope::Ra, NOW, 0),
        Err(TokenError::Invalid(_))
    ));
    assert!(matches!(
        token::issue_token(TokenScope::Ra, u64::MAX, 1),
        Err(TokenError::Invalid(_))
    ));
    assert!(matches!(
        token::issue_token(signer(""), NOW, HOUR),
        Err(TokenError::Invalid(_))
    ));
    let env = env();
    let before = audit_len(&env);
    assert!(
        env.authority
            .create_token(TokenScope::Ra, 0, NOW, "cli")
            .is_err()
    );
    assert_eq!(audit_len(&env), before);
}

/// The practitioner a signer token names becomes an identity and enters the audit log: ca-core
/// refuses control and bidirectional characters, an empty name and an over-long one, whichever
/// door mints the token, and writes nothing.
#[test]
fn a_signer_tokens_practitioner_is_printable_text() {
    let env = env();
    let ra = env
        .authority
        .create_token(TokenScope::Ra, HOUR, NOW, "cli")
        .unwrap();
    let before = env.authority.store().audit_log().unwrap().len();
    let long = "d".repeat(ca_core::credential::MAX_OWNER_LEN + 1);
    for bad in ["dr\u{202E}x", "dr\0", "", long.as_str()] {
        let err = env
            .authority
            .create_token(signer(bad), HOUR, NOW, "cli")
            .unwrap_err();
        assert!(matches!(err, TokenError::Invalid(_)), "{bad:?}: {err}");
        let err = env
            .authority
            .mint_token(ra.id(), signer(bad), HOUR, HOUR, NOW, "token:ra")
            .unwrap_err();
        assert!(matches!(err, TokenError::Invalid(_)), "{bad:?}: {err}");
    }
    assert_eq!(env.authority.store().audit_log().unwrap().len(), before);
    env.authority
        .create_token(signer("主治医 Dr. Ärztin"), HOUR, NOW, "cli")
        .unwrap();
}
