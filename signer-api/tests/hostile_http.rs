//! Hostile input to every route (issue 6 part 4) and the security checks of part 5 that need
//! the whole service: the real binary on port 0, real HTTP, a fresh data directory.
//! Each hostile request gets a 4xx `application/problem+json` answer within a time guard.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Reply, files_under};

const JP: &str = "1.2.392.100495.1.6.1.1";
/// Guard per request (a generous bound, not a benchmark).
const BOUND: Duration = Duration::from_secs(20);

/// The shared server and the tokens its first start printed (empty after a restart).
struct Server {
    server: support::Server,
    ra: String,
    demo_signer: String,
    demo_credential: String,
}

impl Server {
    /// Starts `serve` on `data` (a fresh directory: first start prints the tokens); stderr goes
    /// to `log` when given.
    fn start(data: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Self {
        let (server, lines) = support::spawn_logged(data, env, log);
        let demo = support::Demo::printed(&lines).unwrap_or_default();
        Server {
            server,
            ra: demo.ra,
            demo_signer: demo.signer,
            demo_credential: demo.credential,
        }
    }

    fn stop(&mut self) {
        self.server.kill();
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let agent = ureq::AgentBuilder::new().timeout(BOUND).build();
        let url = format!("{}{path}", self.server.base);
        let mut req = support::bearer(agent.request(method, &url), token);
        if let Some(ct) = content_type {
            req = req.set("Content-Type", ct);
        }
        let started = Instant::now();
        let r = if method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        let reply = support::reply(r).unwrap_or_else(|e| panic!("{method} {path}: transport: {e}"));
        let took = started.elapsed();
        assert!(took < BOUND, "{method} {path} took {took:?}");
        reply
    }

    fn json(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        self.call(
            "POST",
            path,
            Some(token),
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }
}

/// Nested JSON arrays, `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    let mut v = "[".repeat(depth).into_bytes();
    v.extend("]".repeat(depth).into_bytes());
    v
}

/// Every route in /openapi.json (see `openapi_matches_the_routes` in http_api.rs) with the input
/// classes that apply to it.
#[test]
fn every_route_answers_hostile_input_with_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[("HPKI_JSON_LIMIT", "65536")],
        None,
    );
    let (ra, signer) = (s.ra.clone(), s.demo_signer.clone());
    let cred = s.demo_credential.clone();
    let invalid_utf8: &[u8] =
        b"{\"profile\": \"rhp-sign\xff\xfe\", \"subject\": \"CN=x\", \"csr\": \"x\"}";
    let huge = format!("{{\"subject\": \"{}\"}}", "A".repeat(70_000)).into_bytes();
    let deep = nested(5_000);
    let json = Some("application/json");
    let octet = Some("application/octet-stream");
    let csr_pem = |body: &str| {
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n")
    };
    let issue = |csr: String| {
        serde_json::json!({"profile": "rhp-sign", "subject": "C=JP,CN=Hostile,serialNumber=H-1",
            "hc_roles": [format!("{JP}:Medical Doctor")], "csr": csr})
        .to_string()
        .into_bytes()
    };
    // A DER SEQUENCE claiming 4 GiB, and a CSR-shaped SEQUENCE with an indefinite length.
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let wrong_length = csr_pem(&b64(&[
        0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00,
    ]));
    let indefinite = csr_pem(&b64(&[
        0x30, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0, 0, 0, 0,
    ]));
    let deep_der = csr_pem(&b64(&[0x30, 0x80].repeat(20_000)));
    let huge_int = {
        let mut v = vec![
            0x30, 0x83, 0x00, 0x75, 0x35, 0x02, 0x83, 0x00, 0x75, 0x30, 0x01,
        ];
        v.extend(vec![0x7f; 30_000 - 1]);
        csr_pem(&b64(&v))
    };
    let too_many_roles = serde_json::json!({"profile": "rhp-sign", "subject": "C=JP,CN=x",
        "hc_roles": vec![format!("{JP}:Medical Doctor"); 1000], "csr": "x"})
    .to_string()
    .into_bytes();
    let long_name =
        serde_json::json!({"subject": format!("C=JP,CN={},serialNumber=X", "n".repeat(5_000))})
            .to_string()
            .into_bytes();
    let digest = |d: &str| {
        serde_json::json!({"credential": cred, "digest": d, "digest_algorithm": "sha256", "purpose": "author"})
            .to_string()
            .into_bytes()
    };
    let long = "a".repeat(4_000);

    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        Option<&'a str>,
        Option<&'a str>,
        Vec<u8>,
        u16,
    );
    let cases: Vec<Case<'_>> = vec![
        // (what, method, path, token, content type, body, status)
        (
            "no such route",
            "GET",
            "/v1/nothing".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "bad bearer",
            "GET",
            "/v1/certificates".into(),
            Some("hpki_zz"),
            None,
            vec![],
            401,
        ),
        (
            "long bearer",
            "GET",
            "/v1/certificates".into(),
            Some(&long),
            None,
            vec![],
            401,
        ),
        // POST /v1/certificates
        (
            "issue: text/plain",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            Some("text/plain"),
            issue("x".into()),
            415,
        ),
        (
            "issue: no content type",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            None,
            issue("x".into()),
            415,
        ),
        (
            "issue: invalid UTF-8",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            invalid_utf8.to_vec(),
            400,
        ),
        (
            "issue: nested 5,000 deep",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            deep.clone(),
            400,
        ),
        (
            "issue: over the JSON limit",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            huge.clone(),
            413,
        ),
        (
            "issue: unknown field",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            br#"{"profile":"rhp-sign","subject":"C=JP","csr":"x","admin":true}"#.to_vec(),
            400,
        ),
        (
            "issue: bad base64 CSR",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            issue(csr_pem("%%%% not base64 %%%%")),
            400,
        ),
        (
            "issue: CSR length 4 GiB",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            issue(wrong_length),
            400,
        ),
        (
            "issue: CSR indefinite length",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            issue(indefinite),
            400,
        ),
        (
            "issue: CSR nested 20,000 deep",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            issue(deep_der),
            400,
        ),
        (
            "issue: CSR with a 30 kB integer",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            issue(huge_int),
            400,
        ),
        (
            "issue: 1,000 roles",
            "POST",
            "/v1/certificates".into(),
            Some(&ra),
            json,
            too_many_roles,
            400,
        ),
        (
            "issue: signer token",
            "POST",
            "/v1/certificates".into(),
            Some(&signer),
            json,
            issue("x".into()),
            403,
        ),
        // GET /v1/certificates and /v1/certificates/{serial}
        (
            "list: per_page not a number",
            "GET",
            "/v1/certificates?per_page=abc".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "list: per_page 10^30",
            "GET",
            "/v1/certificates?per_page=1000000000000000000000000000000".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "list: page 0",
            "GET",
            "/v1/certificates?page=0".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "list: invalid UTF-8",
            "GET",
            "/v1/certificates?status=%ff%fe".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "list: unknown parameter",
            "GET",
            "/v1/certificates?drop=1".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: not hex",
            "GET",
            "/v1/certificates/zz".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: 4,000 characters",
            "GET",
            format!("/v1/certificates/{long}"),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: invalid UTF-8",
            "GET",
            "/v1/certificates/%ff%fe".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: unknown serial",
            "GET",
            "/v1/certificates/0badc0de".into(),
            Some(&ra),
            None,
            vec![],
            404,
        ),
        (
            "get: signer token",
            "GET",
            "/v1/certificates/00".into(),
            Some(&signer),
            None,
            vec![],
            403,
        ),
        // POST /v1/certificates/{serial}/revoke
        (
            "revoke: text/plain",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&ra),
            Some("text/plain"),
            b"{}".to_vec(),
            415,
        ),
        (
            "revoke: nested",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&ra),
            json,
            deep.clone(),
            400,
        ),
        (
            "revoke: bad reason",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&ra),
            json,
            br#"{"reason":"because"}"#.to_vec(),
            400,
        ),
        (
            "revoke: bad date",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&ra),
            json,
            br#"{"invalidity_date":"yesterday"}"#.to_vec(),
            400,
        ),
        (
            "revoke: unknown serial",
            "POST",
            "/v1/certificates/0badc0de/revoke".into(),
            Some(&ra),
            json,
            b"{}".to_vec(),
            404,
        ),
        (
            "revoke: signer token",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&signer),
            json,
            b"{}".to_vec(),
            403,
        ),
        // POST and GET /v1/credentials
        (
            "credential: invalid UTF-8",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            invalid_utf8.to_vec(),
            400,
        ),
        (
            "credential: nested",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            deep.clone(),
            400,
        ),
        (
            "credential: over the limit",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            huge.clone(),
            413,
        ),
        (
            "credential: 5,000-character name",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            long_name,
            400,
        ),
        (
            "credential: unknown algorithm",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            br#"{"subject":"C=JP,CN=x,serialNumber=x","key_algorithm":"rsa99"}"#.to_vec(),
            400,
        ),
        (
            "credential: subject not a name",
            "POST",
            "/v1/credentials".into(),
            Some(&ra),
            json,
            br#"{"subject":"=,=,=="}"#.to_vec(),
            400,
        ),
        (
            "credentials: ra without owner",
            "GET",
            "/v1/credentials".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        // POST /v1/tokens
        (
            "token: bad scope",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            br#"{"scope":"root"}"#.to_vec(),
            400,
        ),
        (
            "token: lifetime 10^30",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            br#"{"scope":"ra","lifetime_seconds":1e30}"#.to_vec(),
            400,
        ),
        (
            "token: negative lifetime",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            br#"{"scope":"ra","lifetime_days":-1}"#.to_vec(),
            400,
        ),
        (
            "token: practitioner too long",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            format!(r#"{{"scope":"signer","practitioner":"{long}"}}"#).into_bytes(),
            400,
        ),
        (
            "token: nested",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            deep.clone(),
            400,
        ),
        (
            "token: signer token",
            "POST",
            "/v1/tokens".into(),
            Some(&signer),
            json,
            br#"{"scope":"ra"}"#.to_vec(),
            403,
        ),
        // POST /v1/signatures
        (
            "sign: invalid UTF-8",
            "POST",
            "/v1/signatures".into(),
            Some(&signer),
            json,
            invalid_utf8.to_vec(),
            400,
        ),
        (
            "sign: nested",
            "POST",
            "/v1/signatures".into(),
            Some(&signer),
            json,
            deep.clone(),
            400,
        ),
        (
            "sign: over the JSON limit",
            "POST",
            "/v1/signatures".into(),
            Some(&signer),
            json,
            huge.clone(),
            413,
        ),
        (
            "sign: bad base64",
            "POST",
            "/v1/signatures".into(),
            Some(&signer),
            json,
            digest("!!!!"),
            400,
        ),
        (
            "sign: base64 of the wrong length",
            "POST",
            "/v1/signatures".into(),
            Some(&signer),
            json,
            digest("AAAA"),
            400,
        ),
        (
            "sign: no content type",
            "POST",
            format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(&signer),
            None,
            b"doc".to_vec(),
            415,
        ),
        (
            "sign: multipart",
            "POST",
            format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(&signer),
            Some("multipart/form-data; boundary=x"),
            b"--x--".to_vec(),
            415,
        ),
        (
            "sign: attached=maybe",
            "POST",
            format!("/v1/signatures?credential={cred}&purpose=author&attached=maybe"),
            Some(&signer),
            octet,
            b"doc".to_vec(),
            400,
        ),
        (
            "sign: invalid UTF-8 query",
            "POST",
            "/v1/signatures?credential=%ff&purpose=author".into(),
            Some(&signer),
            octet,
            b"doc".to_vec(),
            404,
        ),
        (
            "sign: unknown query",
            "POST",
            format!("/v1/signatures?credential={cred}&purpose=author&x=1"),
            Some(&signer),
            octet,
            b"doc".to_vec(),
            400,
        ),
        (
            "sign: long credential",
            "POST",
            format!("/v1/signatures?credential={long}&purpose=author"),
            Some(&signer),
            octet,
            b"doc".to_vec(),
            404,
        ),
        (
            "sign: ra token",
            "POST",
            format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(&ra),
            octet,
            b"doc".to_vec(),
            403,
        ),
        // Public CA material
        (
            "ca: traversal",
            "GET",
            "/v1/ca/..%2F..%2Fmaster.key".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "ca: no extension",
            "GET",
            "/v1/ca/sign".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "ca: NUL",
            "GET",
            "/v1/ca/sign%00.der".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "ca: invalid UTF-8",
            "GET",
            "/v1/ca/%ff.der".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "ca: long",
            "GET",
            format!("/v1/ca/{long}.der"),
            None,
            None,
            vec![],
            404,
        ),
        // What the OpenAPI document refuses, the service refuses (issue 12 item 14; each of
        // these was accepted before: 200, 201 or a 404 lookup).
        (
            "verify: a malformed query `at` beside a JSON body",
            "POST",
            "/v1/verifications?at=yesterday".into(),
            Some(&ra),
            json,
            br#"{"signature":""}"#.to_vec(),
            400,
        ),
        (
            "verify: date and time separated by a space",
            "POST",
            "/v1/verifications".into(),
            Some(&ra),
            json,
            br#"{"signature":"","at":"2026-12-07 09:00:00Z"}"#.to_vec(),
            400,
        ),
        (
            "revoke: invalidity_date separated by a space",
            "POST",
            "/v1/certificates/00/revoke".into(),
            Some(&ra),
            json,
            br#"{"invalidity_date":"2026-12-07 09:00:00Z"}"#.to_vec(),
            400,
        ),
        (
            "get: two 0x prefixes",
            "GET",
            "/v1/certificates/0x0x00".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: 0x and no digits",
            "GET",
            "/v1/certificates/0x".into(),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "get: a 21-octet serial (RFC 5280 §4.1.2.2: at most 20)",
            "GET",
            format!("/v1/certificates/{}", "01".repeat(21)),
            Some(&ra),
            None,
            vec![],
            400,
        ),
        (
            "token: lifetime_days 0 beside lifetime_seconds",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            br#"{"scope":"ra","lifetime_days":0,"lifetime_seconds":60}"#.to_vec(),
            400,
        ),
        (
            "token: practitioner with a NUL",
            "POST",
            "/v1/tokens".into(),
            Some(&ra),
            json,
            br#"{"scope":"signer","practitioner":"DEMO-0001\u0000x"}"#.to_vec(),
            400,
        ),
        (
            "sign: a digest request with query parameters",
            "POST",
            "/v1/signatures?purpose=author".into(),
            Some(&signer),
            json,
            digest("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            400,
        ),
        // POST /v1/signatures/augment: BER nested 20,000 deep, a length of 4 GiB, an
        // indefinite length never closed, a ContentInfo of something else; each a 400.
        (
            "augment: BER nested 20,000 deep",
            "POST",
            "/v1/signatures/augment?level=B-LT".into(),
            Some(&ra),
            Some("application/pkcs7-signature"),
            [0x30, 0x80].repeat(20_000),
            400,
        ),
        (
            "augment: length 4 GiB",
            "POST",
            "/v1/signatures/augment?level=B-LTA".into(),
            Some(&ra),
            Some("application/pkcs7-signature"),
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00],
            400,
        ),
        (
            "augment: indefinite length never closed",
            "POST",
            "/v1/signatures/augment?level=B-LT".into(),
            Some(&signer),
            Some("application/pkcs7-signature"),
            vec![0x30, 0x80, 0x02, 0x01, 0x00],
            400,
        ),
        (
            "augment: a ContentInfo of data, not SignedData",
            "POST",
            "/v1/signatures/augment".into(),
            Some(&ra),
            json,
            serde_json::json!({"level": "B-LT", "signature": b64(&[
                0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
                0xa0, 0x02, 0x04, 0x00,
            ])})
            .to_string()
            .into_bytes(),
            400,
        ),
        (
            "augment: unknown level",
            "POST",
            "/v1/signatures/augment".into(),
            Some(&ra),
            json,
            br#"{"signature":"MAA=","level":"B-LTA-PLUS"}"#.to_vec(),
            400,
        ),
        (
            "crl: unknown",
            "GET",
            "/v1/crl/..%2Froot".into(),
            None,
            None,
            vec![],
            404,
        ),
        (
            "crl: long",
            "GET",
            format!("/v1/crl/{long}"),
            None,
            None,
            vec![],
            404,
        ),
    ];
    for (what, method, path, token, ct, body, status) in &cases {
        let r = s.call(method, path, *token, *ct, body);
        let detail = r.problem_at(*status, what);
        assert!(
            !detail.contains("internal error"),
            "{what}: answered as a server fault"
        );
    }
    // Metric series stay bounded whatever a client sends: an extension method and an unknown
    // profile name are counted under fixed labels, never under the client's strings.
    for method in ["XQZMETHODA", "XQZMETHODB"] {
        assert!(s.call(method, "/health", None, None, &[]).status >= 400);
    }
    let refused = s.call(
        "POST",
        "/v1/certificates",
        Some(&s.ra),
        Some("application/json"),
        br#"{"profile":"xqz-profile","subject":"C=JP,CN=x","csr":"x"}"#,
    );
    assert!((400..500).contains(&refused.status), "{}", refused.status);
    // Still serving, and nothing above counted as a server error.
    assert_eq!(s.call("GET", "/health", None, None, &[]).status, 200);
    let metrics = String::from_utf8(s.call("GET", "/metrics", None, None, &[]).body).unwrap();
    assert!(
        !metrics.contains("status=\"5"),
        "a hostile request got a 5xx: {metrics}"
    );
    assert!(
        !metrics.contains("XQZ") && !metrics.contains("xqz"),
        "{metrics}"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    assert!(
        metrics.contains(
            "hpki_certificates_issued_total{profile=\"unknown\",outcome=\"unknown_profile\"}"
        ),
        "{metrics}"
    );
}

/// Issue 12 item 13 (c) and the architecture step: errors that actix-web's extractors find (JSON
/// payload, media type, size, query) answer problem+json with a detail that says what is wrong,
/// and the metrics count every problem by its reason (a fixed name), so refusals are classified
/// by kind rather than by status.
#[test]
fn extractor_errors_are_problems_counted_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[("HPKI_JSON_LIMIT", "4096")],
        None,
    );
    let ra = Some(s.ra.as_str());
    // (what, method, path, content type, body) → (status, a phrase of the detail)
    let check =
        |what: &str, method: &str, path: &str, ct: Option<&str>, body: &[u8], status, says| {
            let detail = s.call(method, path, ra, ct, body).problem_at(status, what);
            assert!(detail.contains(says), "{what}: {detail}");
        };
    let json = Some("application/json");
    check(
        "text/plain JSON",
        "POST",
        "/v1/certificates",
        Some("text/plain"),
        b"{}",
        415,
        "application/json",
    );
    check(
        "no content type",
        "POST",
        "/v1/tokens",
        None,
        b"{}",
        415,
        "application/json",
    );
    check(
        "truncated JSON",
        "POST",
        "/v1/tokens",
        json,
        b"{\"scope\":",
        400,
        "malformed JSON",
    );
    check(
        "unknown field",
        "POST",
        "/v1/tokens",
        json,
        br#"{"scope":"ra","xqz":1}"#,
        400,
        "xqz",
    );
    check(
        "query type",
        "GET",
        "/v1/certificates?page=x",
        None,
        b"",
        400,
        "Query",
    );
    let big = format!("{{\"subject\":\"{}\"}}", "A".repeat(5000));
    check(
        "JSON over its limit",
        "POST",
        "/v1/credentials",
        json,
        big.as_bytes(),
        413,
        "4096",
    );
    let metrics = String::from_utf8(s.call("GET", "/metrics", None, None, &[]).body).unwrap();
    for reason in ["unsupported_media", "json", "parameters", "too_large"] {
        assert!(
            metrics.contains(&format!("hpki_http_problems_total{{reason=\"{reason}\"}}")),
            "{reason}: {metrics}"
        );
    }
}

// ---- Part 5: security checks ----

/// The secrets of a data directory: each sealed key (CA and credential) opened with `master.key`,
/// as the PKCS#8 document and its private key octets (hex and base64 as well).
fn private_keys(data: &Path) -> Vec<Vec<u8>> {
    use ca_core::store::Store;
    let key: [u8; 32] = std::fs::read(data.join("master.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let sealer = ca_core::seal::Sealer::from_key(&key);
    let store = ca_core::store::SledStore::open(&data.join("store")).unwrap();
    let mut sealed: Vec<(String, Vec<u8>)> = ["root", "sign", "auth"]
        .into_iter()
        .map(|id| {
            let ca = store.authority(id).unwrap().unwrap();
            (ca.id, ca.sealed_key)
        })
        .collect();
    for owner in ["DEMO-0001", "LOG-1", "LOG-2"] {
        for c in store.credentials_of(owner).unwrap() {
            sealed.push((c.id, c.sealed_key));
        }
    }
    assert!(sealed.len() >= 5, "too few keys to check: {}", sealed.len());
    let mut out = Vec::new();
    for (id, blob) in sealed {
        let pkcs8 = sealer.open(&blob, id.as_bytes()).unwrap().to_vec();
        // ECPrivateKey (RFC 5915) in a P-256 PKCS#8: version 1, then the 32-octet scalar.
        let scalar = pkcs8
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
            .map(|at| pkcs8[at + 5..at + 37].to_vec())
            .expect("a P-256 PKCS#8");
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        out.push(hex::encode(&scalar).into_bytes());
        out.push(b64.encode(&pkcs8).as_bytes()[8..40].to_vec());
        out.push(scalar);
        out.push(pkcs8);
    }
    out.push(key.to_vec());
    out.push(hex::encode(key).into_bytes());
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A full scenario at RUST_LOG=trace (tokens, credentials, signatures, refusals, a token revoked
/// across a restart); its log holds no token, secret, private key or master key, and no file in
/// the data directory holds a private key in clear.
#[test]
fn a_full_scenario_logs_no_secret_and_stores_keys_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let trace = [("RUST_LOG", "trace")];
    let mut s = Server::start(&data, &trace, Some(&log));
    let mut tokens = vec![s.ra.clone(), s.demo_signer.clone()];

    let credential = |s: &Server, owner: &str| {
        let r = s.json(
            "/v1/credentials",
            &s.ra,
            serde_json::json!({"subject": format!("C=JP,O=Log Hospital,CN={owner},serialNumber={owner}"),
                "hc_roles": [format!("{JP}:Medical Doctor")]}),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let t = s.json(
            "/v1/tokens",
            &s.ra,
            serde_json::json!({"scope": "signer", "practitioner": owner}),
        );
        assert_eq!(t.status, 201);
        (
            r.json()["id"].as_str().unwrap().to_owned(),
            t.json()["token"].as_str().unwrap().to_owned(),
        )
    };
    let (cred1, tok1) = credential(&s, "LOG-1");
    let (cred2, tok2) = credential(&s, "LOG-2");
    tokens.extend([tok1.clone(), tok2.clone()]);
    let sign = |s: &Server, cred: &str, token: &str| {
        s.call(
            "POST",
            &format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(token),
            Some("application/octet-stream"),
            b"progress note",
        )
    };
    assert_eq!(sign(&s, &cred1, &tok1).status, 201);
    assert_eq!(sign(&s, &cred2, &tok2).status, 201);

    // Part 5 authorisation, over HTTP: one practitioner's token neither signs with nor reads
    // another's credentials; RA-only routes refuse signer tokens.
    sign(&s, &cred2, &tok1).problem_at(403, "sign with another's credential");
    let own = s
        .call("GET", "/v1/credentials", Some(&tok1), None, &[])
        .json();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["id"], cred1.as_str());
    s.call("GET", "/v1/credentials?owner=LOG-2", Some(&tok1), None, &[])
        .problem_at(403, "read another's credentials");
    // RA-only routes refuse a signer token before judging the body: the same 403 for a
    // well-formed body and a malformed one.
    for (method, path, body) in [
        ("POST", "/v1/certificates", "{not json"),
        ("POST", "/v1/certificates/00/revoke", "[]"),
        ("POST", "/v1/credentials", r#"{"subject":1}"#),
        ("POST", "/v1/tokens", r#"{"scope":"root"}"#),
        (
            "POST",
            "/v1/certificates",
            r#"{"profile":"rhp-sign","subject":"C=JP,CN=x","csr":"x"}"#,
        ),
        ("GET", "/v1/certificates", ""),
        ("GET", "/v1/certificates/00", ""),
        ("POST", "/v1/certificates/00/revoke", "{}"),
        (
            "POST",
            "/v1/credentials",
            r#"{"subject":"C=JP,CN=x,serialNumber=x"}"#,
        ),
        ("POST", "/v1/tokens", r#"{"scope":"ra"}"#),
    ] {
        s.call(
            method,
            path,
            Some(&tok1),
            Some("application/json"),
            body.as_bytes(),
        )
        .problem_at(403, &format!("{method} {path} with a signer token"));
    }
    // Refusals that carry token-like material: a forged secret, a token as a credential id.
    // Change the last secret digit (to "0", or to "1" when it already is "0").
    let forged = match tok1.strip_suffix('0') {
        Some(head) => format!("{head}1"),
        None => format!("{}0", &tok1[..tok1.len() - 1]),
    };
    sign(&s, &cred1, &forged).problem_at(401, "forged token");
    sign(&s, &tok2, &tok1).problem_at(404, "a token as credential id");

    // Revoke tok1 in the store (there is no route for it), restart: it is refused.
    s.stop();
    {
        let store = ca_core::store::SledStore::open(&data.join("store")).unwrap();
        let key: [u8; 32] = std::fs::read(data.join("master.key"))
            .unwrap()
            .try_into()
            .unwrap();
        let authority = ca_core::authority::Authority::open(
            store,
            ca_core::profile::ProfileSet::embedded().unwrap(),
            ca_core::seal::Sealer::from_key(&key),
            now(),
        )
        .unwrap();
        let id = tok1.split('_').nth(1).unwrap();
        authority.revoke_token(id, now(), "test").unwrap();
    }
    let restart_log = dir.path().join("restart.log");
    let s2 = Server::start(&data, &trace, Some(&restart_log));
    let d = sign(&s2, &cred1, &tok1).problem_at(401, "revoked token");
    assert!(d.contains("revoked"), "{d}");
    assert_eq!(sign(&s2, &cred2, &tok2).status, 201);
    drop(s2);

    let mut logs = std::fs::read(&log).unwrap();
    logs.extend(std::fs::read(&restart_log).unwrap());
    assert!(
        logs.len() > 10_000 && contains(&logs, b"TRACE"),
        "the trace log is too thin to prove anything ({} bytes)",
        logs.len()
    );
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for t in tokens.iter().chain([&forged]) {
        secrets.push(t.as_bytes().to_vec());
        // The secret part alone (hpki_<id>_<secret>): the id may be logged, the secret never.
        secrets.push(t.rsplit('_').next().unwrap().as_bytes().to_vec());
    }
    let keys = private_keys(&data);
    for secret in secrets.iter().chain(&keys) {
        assert!(
            !contains(&logs, secret),
            "the log holds a secret: {}",
            String::from_utf8_lossy(&secret[..secret.len().min(12)])
        );
    }
    assert!(!contains(&logs, b"PRIVATE KEY"));

    // Keys at rest: no file of the data directory holds any of them in clear.
    let files = files_under(&data);
    assert!(files.len() > 3, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for key in &keys[..keys.len() - 2] {
            assert!(
                !contains(&bytes, key),
                "{} holds a private key in clear",
                file.display()
            );
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
