//! The HTTP side of a foreign RFC 3161 TSA (`[tsa] url`): ca-core builds each request and
//! judges each answer (`Authority::augment`, `Authority::sign`); this only carries the octets
//! (RFC 3161 §3.4: POST `application/timestamp-query`, answer `application/timestamp-reply`).
//! It blocks: ca-core calls it on the blocking pool, never on the actix executor.

use crate::config::TsaSettings;
use base64::Engine as _;
use ca_core::authority::{AugmentError, ForeignTsa, TsaTransport};
use std::io::Read;
use std::time::Duration;

/// The largest response read: a token with a long chain is a few KiB.
const MAX_RESPONSE_LEN: u64 = 256 * 1024;

/// A foreign TSA reached with ureq.
struct Http {
    agent: ureq::Agent,
    url: String,
    /// The `Authorization` header value, if any: never logged, never in an error.
    authorization: Option<String>,
}

impl TsaTransport for Http {
    fn exchange(&self, request_der: &[u8]) -> Result<Vec<u8>, String> {
        let mut request = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/timestamp-query");
        if let Some(value) = &self.authorization {
            request = request.set("Authorization", value);
        }
        let response = match request.send_bytes(request_der) {
            Ok(response) => response,
            Err(ureq::Error::Status(status, _)) => return Err(format!("HTTP status {status}")),
            Err(ureq::Error::Transport(t)) => return Err(format!("transport: {}", t.kind())),
        };
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_RESPONSE_LEN + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading the response: {e}"))?;
        if body.len() as u64 > MAX_RESPONSE_LEN {
            return Err(format!("response larger than {MAX_RESPONSE_LEN} octets"));
        }
        Ok(body)
    }
}

/// The foreign TSA `settings` configure, if any: its trust anchor read from its file.
pub fn from_settings(settings: &TsaSettings) -> Result<Option<ForeignTsa>, AugmentError> {
    let Some(url) = &settings.url else {
        return Ok(None);
    };
    let path = settings
        .trust_anchor
        .as_ref()
        .ok_or_else(|| AugmentError::Config("tsa.url needs tsa.trust_anchor".into()))?;
    let bytes = std::fs::read(path)
        .map_err(|e| AugmentError::Config(format!("{}: {e}", path.display())))?;
    let anchors = ca_core::verify::decode_certificates(&bytes)
        .map_err(|e| AugmentError::Config(format!("{}: {e}", path.display())))?;
    let authorization = match (
        &settings.username,
        &settings.password,
        &settings.bearer_token,
    ) {
        (_, _, Some(token)) => Some(format!("Bearer {token}")),
        (Some(user), Some(password), None) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
        _ => None,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(settings.timeout_seconds))
        .redirects(0)
        .build();
    let transport = Http {
        agent,
        url: url.clone(),
        authorization,
    };
    ForeignTsa::new(url.clone(), anchors, Box::new(transport)).map(Some)
}
