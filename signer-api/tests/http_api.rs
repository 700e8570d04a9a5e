//! The signing service end to end: the real binary on port 0 with a fresh data directory, real
//! HTTP, OpenSSL as the independent verifier.

mod support;

use std::io::Read;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{Demo, Reply, admin_ok as admin, peak_rss, received as reply};

const JP: &str = "1.2.392.100495.1.6.1.1";

/// A fresh service: the shared server, its demo tokens, and the directory of its data (declared
/// last, so the server is killed before the directory is removed).
struct Service {
    server: support::Server,
    demo: Demo,
    dir: tempfile::TempDir,
}

impl std::ops::Deref for Service {
    type Target = support::Server;

    fn deref(&self) -> &support::Server {
        &self.server
    }
}

fn start(env: &[(&str, &str)]) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let (server, demo) = support::start_fresh(&dir.path().join("data"), env);
    Service { server, demo, dir }
}

impl Service {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to the file `name` of the test directory; returns its path.
    fn save(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn root_pem(&self) -> PathBuf {
        self.dir.path().join("data/ca/root.pem")
    }

    /// RA creates a signing credential; returns (credential id, signer token of its owner).
    fn credential(&self, owner: &str, role: Option<&str>, alg: &str) -> (String, String) {
        let roles: Vec<String> = role.map(|r| format!("{JP}:{r}")).into_iter().collect();
        let r = self.post_json(
            "/v1/credentials",
            Some(&self.demo.ra),
            &serde_json::json!({
                "subject": format!("C=JP,O=Example Hospital,CN={owner},serialNumber={owner}"),
                "hc_roles": roles,
                "key_algorithm": alg,
            }),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let t = self.post_json(
            "/v1/tokens",
            Some(&self.demo.ra),
            &serde_json::json!({"scope": "signer", "practitioner": owner}),
        );
        assert_eq!(t.status, 201, "{}", t.text());
        (id, t.json()["token"].as_str().unwrap().to_owned())
    }

    /// RA revokes (keyCompromise) the certificate of `owner`'s first credential; returns its serial.
    fn revoke_first_of(&self, owner: &str) -> String {
        let view = self
            .get(
                &format!("/v1/credentials?owner={owner}"),
                Some(&self.demo.ra),
            )
            .json();
        let serial = view[0]["serial"].as_str().unwrap().to_owned();
        let r = self.post_json(
            &format!("/v1/certificates/{serial}/revoke"),
            Some(&self.demo.ra),
            &serde_json::json!({"reason": "keyCompromise"}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        serial
    }
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is required by these tests (.ci/run installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `openssl cms -verify` of a DER signature, with `content` for a detached one.
fn cms_verify(root: &Path, sig: &Path, content: Option<&Path>) -> (bool, String) {
    cms_verify_to(root, sig, content, Path::new("/dev/null"))
}

/// [`cms_verify`], writing the signed content to `out`.
fn cms_verify_to(root: &Path, sig: &Path, content: Option<&Path>, out: &Path) -> (bool, String) {
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        sig.to_str().unwrap(),
        "-CAfile",
        root.to_str().unwrap(),
        "-purpose",
        "any",
        "-out",
        out.to_str().unwrap(),
    ];
    if let Some(c) = content {
        args.extend_from_slice(&["-content", c.to_str().unwrap()]);
    }
    openssl(&args)
}

fn sha(alg: &'static ring::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    ring::digest::digest(alg, data).as_ref().to_vec()
}

#[test]
fn health_metrics_openapi_and_ca_material() {
    let s = start(&[]);
    assert_eq!(s.get("/health", None).json()["status"], "ok");
    let bundle = s.get("/v1/ca/certificates", None);
    assert_eq!(bundle.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&bundle.body)
            .matches("BEGIN CERTIFICATE")
            .count(),
        3
    );
    let crl = s.get("/v1/crl/sign", None);
    assert_eq!(
        (crl.status, crl.content_type.as_str()),
        (200, "application/pkix-crl")
    );
    let path = s.save("sign.crl", &crl.body);
    let sign = s.get("/v1/ca/sign.pem", None);
    let sign_pem = s.save("sign.pem", &sign.body);
    let (ok, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
        "-CAfile",
        sign_pem.to_str().unwrap(),
        "-noout",
    ]);
    assert!(ok && text.contains("verify OK"), "{text}");
    // A second read serves the same CRL (no new CRL number per GET; issue 12 item 6).
    let again = s.get("/v1/crl/sign", None).body;
    assert_eq!(support::crl_number(&again), support::crl_number(&crl.body));
    assert_eq!(again, crl.body);
    s.get("/v1/crl/nope", None).problem(404);
    let profiles = s.get("/v1/profiles", None).json();
    assert!(
        profiles
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "rhp-sign")
    );
    let metrics = String::from_utf8(s.get("/metrics", None).body).unwrap();
    assert!(
        metrics.contains("hpki_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/health\""), "{metrics}");
}

/// Every route in /openapi.json is served, and what is not in it is not served.
#[test]
fn openapi_matches_the_routes() {
    let s = start(&[]);
    let doc = s.get("/openapi.json", None).json();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations: Vec<String> = paths
        .iter()
        .flat_map(|(p, i)| {
            i.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /v1/tokens/{id}",
            "GET /health",
            "GET /metrics",
            "GET /openapi.json",
            "GET /v1/ca/certificates",
            "GET /v1/ca/{file}",
            "GET /v1/certificates",
            "GET /v1/certificates/{serial}",
            "GET /v1/credentials",
            "GET /v1/crl/{ca}",
            "GET /v1/ocsp/{request}",
            "GET /v1/profiles",
            "GET /v1/timestamps/certificate",
            "GET /v1/tokens",
            "POST /v1/certificates",
            "POST /v1/certificates/{serial}/release",
            "POST /v1/certificates/{serial}/revoke",
            "POST /v1/credentials",
            "POST /v1/ocsp",
            "POST /v1/signatures",
            "POST /v1/signatures/augment",
            "POST /v1/timestamps",
            "POST /v1/tokens",
            "POST /v1/verifications",
        ]
    );
    for (path, item) in paths {
        let concrete = path
            .replace("{serial}", "00")
            .replace("{ca}", "sign")
            .replace("{file}", "sign.der")
            .replace("{request}", "MAA")
            .replace("{id}", "00");
        for method in item.as_object().unwrap().keys() {
            let url = format!("{}{concrete}", s.base);
            let r = reply(ureq::request(&method.to_uppercase(), &url).call());
            let routed =
                !(r.status == 404 && r.text().contains("no such route")) && r.status != 405;
            assert!(routed, "{method} {path} is documented but not served");
        }
    }
    let r = reply(ureq::get(&format!("{}/v1/nothing", s.base)).call());
    assert!(r.problem(404).contains("no such route"));
}

/// A method a served path does not take is 405 with `Allow` (RFC 9110 §15.5.6) and a problem
/// body; HEAD is served wherever GET is, without the body (RFC 9110 §9.3.2). Today's main
/// answered 404 to each.
#[test]
fn an_undeclared_method_is_405_with_allow_and_head_is_get_without_its_body() {
    let s = start(&[]);
    let agent = support::agent();
    for (method, path, allow) in [
        ("PUT", "/health", "GET, HEAD"),
        ("TRACE", "/metrics", "GET, HEAD"),
        ("DELETE", "/v1/certificates", "GET, HEAD, POST"),
        ("PATCH", "/v1/certificates/00", "GET, HEAD"),
        ("GET", "/v1/certificates/00/revoke", "POST"),
        ("GET", "/v1/tokens/00", "DELETE"),
        ("POST", "/openapi.json", "GET, HEAD"),
        ("HEAD", "/v1/signatures", "POST"),
    ] {
        let url = format!("{}{path}", s.base);
        let resp = match agent.request(method, &url).call() {
            Err(ureq::Error::Status(_, resp)) => resp,
            other => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(resp.header("Allow"), Some(allow), "{method} {path}");
        let what = format!("{method} {path}");
        if method == "HEAD" {
            assert_eq!(resp.status(), 405, "{what}");
            continue;
        }
        let detail = reply(Ok(resp)).problem_at(405, &what);
        assert!(detail.contains(allow), "{what}: {detail}");
    }
    // The document's own methods match the Allow header's (HEAD aside).
    let doc = s.get("/openapi.json", None).json();
    let methods: Vec<&String> = doc["paths"]["/v1/certificates"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(methods, ["get", "post"]);

    let head = agent
        .head(&format!("{}/v1/ca/sign.pem", s.base))
        .call()
        .unwrap();
    let get = s.get("/v1/ca/sign.pem", None);
    assert_eq!(head.status(), 200);
    assert_eq!(head.content_type(), "application/x-pem-file");
    assert_eq!(
        head.header("Content-Length"),
        Some(get.body.len().to_string().as_str())
    );
    assert!(reply(Ok(head)).body.is_empty());
}

/// Every error response in the document is an RFC 9457 problem (application/problem+json), with
/// the statuses the middleware answers on every route and the headers they carry; the values
/// the deployment accepts (CA ids, profiles, purposes, token lifetimes) are in it. Today's main
/// declared error bodies as application/json and left 401, 408, 413, 415 and 429 out.
#[test]
fn openapi_declares_problem_json_for_every_error_and_the_deployments_values() {
    let s = start(&[("HPKI_TOKEN_MAX_DAYS", "100")]);
    let doc = s.get("/openapi.json", None).json();
    let problem = &doc["components"]["schemas"]["Problem"];
    assert_eq!(
        problem["required"],
        serde_json::json!(["type", "title", "status", "detail"])
    );
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for status in ["408", "413", "429"] {
                assert!(responses.contains_key(status), "{what}: no {status}");
            }
            assert_eq!(
                responses["429"]["headers"]["Retry-After"]["required"], true,
                "{what}"
            );
            if op.get("security").is_some() {
                assert_eq!(
                    responses["401"]["headers"]["WWW-Authenticate"]["required"], true,
                    "{what}"
                );
            }
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                errors += 1;
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{what} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{what} {status}"
                );
                assert!(
                    !response["description"].as_str().unwrap().is_empty(),
                    "{what} {status}"
                );
            }
        }
    }
    assert!(errors > 100, "{errors} error responses");
    let post = |path: &str| &doc["paths"][path]["post"]["responses"];
    for path in ["/v1/certificates", "/v1/credentials", "/v1/tokens"] {
        assert!(post(path).get("415").is_some(), "{path}");
    }
    assert!(post("/v1/signatures").get("503").is_some());
    assert_eq!(
        post("/v1/signatures")["503"]["headers"]["Retry-After"]["required"],
        true
    );

    let ca = &doc["paths"]["/v1/crl/{ca}"]["get"]["parameters"][0]["schema"];
    assert_eq!(ca["type"], "string");
    let mut cas: Vec<&str> = ca["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    cas.sort_unstable();
    assert_eq!(cas, ["auth", "root", "sign"]);
    let schemas = &doc["components"]["schemas"];
    let issuable = schemas["IssueRequest"]["properties"]["profile"]["enum"]
        .as_array()
        .unwrap();
    assert!(issuable.contains(&serde_json::json!("rhp-auth")));
    assert!(
        !issuable.contains(&serde_json::json!("sign-ca")),
        "{issuable:?}"
    );
    let purposes = &schemas["DigestRequest"]["properties"]["purpose"]["enum"];
    assert!(
        purposes
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("author"))
    );
    let token = &schemas["CreateToken"]["properties"];
    assert_eq!(token["lifetime_days"]["maximum"], 100);
    assert_eq!(token["lifetime_seconds"]["maximum"], 100 * 86_400);
    let reasons = &schemas["RevokeRequest"]["properties"]["reason"]["enum"];
    assert!(
        reasons
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("certificateHold"))
    );
    assert!(
        !reasons
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("removeFromCRL"))
    );

    // A limit the document states is one the service keeps: 128 characters, not bytes.
    let practitioner = "é".repeat(128);
    let r = s.post_json(
        "/v1/tokens",
        Some(&s.demo.ra),
        &serde_json::json!({"scope": "signer", "practitioner": practitioner}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        token["practitioner"]["maxLength"], 128,
        "the document's limit is the one tested"
    );
    let r = s.post_json(
        "/v1/tokens",
        Some(&s.demo.ra),
        &serde_json::json!({"scope": "signer", "practitioner": "é".repeat(129)}),
    );
    assert!(r.problem(400).contains("129 characters"), "{}", r.text());
}

/// Suspension (issue 12 item 4): certificateHold stops signing and lists the certificate on the
/// CRL served at once; release takes it off and signing works again; removeFromCRL is refused.
#[test]
fn hold_and_release_over_http() {
    let s = start(&[]);
    let (cred, token) = s.credential("DOC-H", Some("Medical Doctor"), "p256");
    let serial = s
        .get("/v1/credentials?owner=DOC-H", Some(&s.demo.ra))
        .json()[0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let sign = || {
        s.post_bytes(
            &format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(&token),
            "application/octet-stream",
            b"referral letter",
        )
    };
    let revoke = |reason: &str| {
        s.post_json(
            &format!("/v1/certificates/{serial}/revoke"),
            Some(&s.demo.ra),
            &serde_json::json!({ "reason": reason }),
        )
    };
    let release = || {
        s.post_bytes(
            &format!("/v1/certificates/{serial}/release"),
            Some(&s.demo.ra),
            "application/json",
            b"",
        )
    };
    let crl_text = |name: &str| {
        let crl = s.get("/v1/crl/sign", None);
        let path = s.save(name, &crl.body);
        let (ok, text) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            path.to_str().unwrap(),
            "-noout",
            "-text",
        ]);
        assert!(ok, "{text}");
        text
    };

    let d = revoke("removeFromCRL").problem(400);
    assert!(
        d.contains("removeFromCRL is not a revocation reason"),
        "{d}"
    );
    let d = release().problem(409);
    assert!(d.contains("not on hold"), "{d}");
    // Only the RA releases.
    s.post_bytes(
        &format!("/v1/certificates/{serial}/release"),
        Some(&token),
        "application/json",
        b"",
    )
    .problem(403);

    let r = revoke("certificateHold");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "held", "{}", r.text());
    assert_eq!(r.json()["revocation_reason"], "certificateHold");
    let d = sign().problem(403);
    assert!(d.contains("on hold (certificateHold)"), "{d}");
    let text = crl_text("held.crl");
    assert!(text.contains("Certificate Hold"), "{text}");
    assert!(
        text.to_uppercase().contains(&serial.to_uppercase()),
        "{text}"
    );

    let r = release();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "good", "{}", r.text());
    assert!(r.json()["revocation_reason"].is_null(), "{}", r.text());
    let text = crl_text("released.crl");
    assert!(text.contains("No Revoked Certificates"), "{text}");
    let r = sign();
    assert_eq!(r.status, 201, "{}", r.text());
    release().problem(409);
}

/// `POST /v1/verifications`: the verifier engine against the service's root, CA certificates and
/// current CRLs; raw and JSON requests; every verdict the relying party must see.
#[test]
fn verifications_report_the_verdict_against_the_service_pki() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let s = start(&[("HPKI_VERIFICATION_LIMIT", "65536")]);
    let (cred, token) = s.credential("DOC-V", Some("Medical Doctor"), "p256");
    let document = b"Discharge summary: stable, follow-up in 2 weeks.\n".to_vec();
    let sign_at = |attached: bool, level: &str| {
        let r = s.post_bytes(
            &format!("/v1/signatures?credential={cred}&purpose=author&attached={attached}{level}"),
            Some(&token),
            "application/octet-stream",
            &document,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.body
    };
    let sign = |attached: bool| sign_at(attached, "");
    let attached = sign(true);
    let detached = sign(false);
    let raw = |body: &[u8], token: Option<&str>| {
        s.post_bytes(
            "/v1/verifications",
            token,
            "application/pkcs7-signature",
            body,
        )
    };
    let verdict = |r: &Reply| {
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        (
            j["indication"].as_str().unwrap().to_owned(),
            j["sub_indication"].as_str().unwrap_or("").to_owned(),
            j,
        )
    };

    // A signature made by the service verifies, with the signer's certified role in the report.
    let (ind, _, j) = verdict(&raw(&attached, Some(&token)));
    assert_eq!(ind, "TOTAL-PASSED", "{j:#}");
    let sig = &j["signatures"][0];
    assert_eq!(sig["hc_roles"][0]["text"], "Medical Doctor", "{j:#}");
    assert_eq!(sig["chain"].as_array().unwrap().len(), 3, "{j:#}");
    // The service signs at B-T by default (its built-in TSA): the level is said, and the
    // signature time-stamp proves the time (issue 14).
    assert_eq!(sig["level"], "B-T", "{j:#}");
    assert_eq!(
        sig["best_signature_time_proof"], "signature time-stamp #1",
        "{j:#}"
    );
    let revocation = sig["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "revocation")
        .unwrap();
    assert_eq!(revocation["outcome"], "passed", "{j:#}");

    // Detached, as JSON, by any authenticated caller (here the RA): content, or only its digest.
    let post = |body: serde_json::Value| s.post_json("/v1/verifications", Some(&s.demo.ra), &body);
    let (ind, _, j) = verdict(&post(
        serde_json::json!({"signature": b64(&detached), "content": b64(&document)}),
    ));
    assert_eq!(ind, "TOTAL-PASSED", "{j:#}");
    let digest = sha(&ring::digest::SHA256, &document);
    let (ind, _, j) = verdict(&post(serde_json::json!({
        "signature": b64(&detached), "content_digest": b64(&digest), "digest_algorithm": "sha256"
    })));
    assert_eq!(ind, "TOTAL-PASSED", "{j:#}");
    // Tampered content, tampered signature value.
    let (ind, sub, _) = verdict(&post(
        serde_json::json!({"signature": b64(&detached), "content": b64(b"Discharge: unstable")}),
    ));
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "HASH_FAILURE")
    );
    // At B-B the last octets are the signer's signature value (at B-T, the token's).
    let mut bad = sign_at(true, "&level=B-B");
    let n = bad.len();
    bad[n - 5] ^= 1;
    let (ind, sub, _) = verdict(&raw(&bad, Some(&token)));
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")
    );
    // A detached signature without its content cannot be decided.
    let (_, sub, _) = verdict(&raw(&detached, Some(&token)));
    assert_eq!(sub, "SIGNED_DATA_NOT_FOUND");
    // Validation time before the certificates existed.
    let r = s.post_bytes(
        "/v1/verifications?at=2001-01-01T00:00:00Z",
        Some(&token),
        "application/pkcs7-signature",
        &attached,
    );
    let (ind, sub, j) = verdict(&r);
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "NOT_YET_VALID"),
        "{j:#}"
    );

    // Garbage is a verdict (the CLI's exit 1), not a request error.
    let (ind, sub, j) = verdict(&raw(b"certainly not CMS", Some(&token)));
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "FORMAT_FAILURE")
    );
    assert!(!j["checks"][0]["reason"].as_str().unwrap().is_empty());
    // Request errors.
    raw(&attached, None).problem(401);
    s.post_bytes("/v1/verifications", Some(&token), "text/plain", &attached)
        .problem(415);
    post(serde_json::json!({"signature": "%%%"})).problem(400);
    post(serde_json::json!({"signature": b64(&detached), "content_digest": b64(&[1; 20]), "digest_algorithm": "sha256"}))
        .problem(400);
    s.post_bytes(
        "/v1/verifications?at=yesterday",
        Some(&token),
        "application/pkcs7-signature",
        &attached,
    )
    .problem(400);
    let d = raw(&vec![0x30; 70_000], Some(&token)).problem(413);
    assert!(d.contains("65536"), "{d}");

    // After revocation of the signer's certificate (the service publishes a new CRL at once).
    s.revoke_first_of("DOC-V");
    let (ind, sub, j) = verdict(&raw(&attached, Some(&s.demo.ra)));
    assert_eq!(
        (ind.as_str(), sub.as_str()),
        ("TOTAL-FAILED", "REVOKED"),
        "{j:#}"
    );
}

/// Signature audit records in the store, read after the server is gone.
fn signature_audits(mut s: Service) -> usize {
    let data = s.dir.path().join("data/store");
    s.child_kill();
    use ca_core::store::Store;
    let store = ca_core::store::SledStore::open(&data).unwrap();
    ca_core::store::audit_verify(&store).unwrap();
    store
        .audit_log()
        .unwrap()
        .iter()
        .filter(|r| r.event.action == ca_core::audit::AuditAction::Sign)
        .count()
}

impl Service {
    /// Stops the server (SIGKILL) and keeps the data directory.
    fn child_kill(&mut self) -> &tempfile::TempDir {
        self.server.kill();
        &self.dir
    }
}

#[test]
fn large_attached_document_verifies_with_openssl() {
    // Past 64 KiB an attached document is signed on the blocking pool, not the async worker:
    // the same checks and the same CMS either way.
    let s = start(&[]);
    let document: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (cred, token) = s.credential("DOC-large", Some("Medical Doctor"), "p256");
    for _ in 0..2 {
        let r = s.post_bytes(
            &format!("/v1/signatures?credential={cred}&purpose=author&attached=true"),
            Some(&token),
            "application/octet-stream",
            &document,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let sig = s.save("large.p7s", &r.body);
        let out = s.path("large.out");
        let (ok, text) = cms_verify_to(&s.root_pem(), &sig, None, &out);
        assert!(ok, "{text}");
        assert_eq!(std::fs::read(&out).unwrap(), document);
        check_cades(&r.body, "p256");
    }
}

#[test]
fn sign_detached_attached_and_digest_verify_with_openssl() {
    let s = start(&[]);
    let document = b"Rx: amoxicillin 500 mg, three times daily for 7 days.\n".repeat(50);
    let doc = s.save("prescription.txt", &document);
    let mut signatures = 0;
    for alg in ["p256", "p384", "ed25519", "rsa"] {
        let owner = format!("DOC-{alg}");
        let (cred, token) = s.credential(&owner, Some("Medical Doctor"), alg);
        for attached in [false, true] {
            let r = s.post_bytes(
                &format!("/v1/signatures?credential={cred}&purpose=author&attached={attached}"),
                Some(&token),
                "application/octet-stream",
                &document,
            );
            assert_eq!(r.status, 201, "{alg}: {}", r.text());
            assert_eq!(r.content_type, "application/pkcs7-signature");
            signatures += 1;
            let sig = s.save(&format!("{alg}-{attached}.p7s"), &r.body);
            if alg == "ed25519" {
                // OpenSSL 3.0 cannot verify Ed25519 CMS with signed attributes; parse only.
                let (ok, text) = openssl(&[
                    "cms",
                    "-cmsout",
                    "-print",
                    "-inform",
                    "DER",
                    "-in",
                    sig.to_str().unwrap(),
                ]);
                assert!(ok && text.contains("ED25519"), "{text}");
                continue;
            }
            let (ok, text) = cms_verify(&s.root_pem(), &sig, (!attached).then_some(doc.as_path()));
            assert!(ok, "{alg} attached={attached}: {text}");
            // Tampered content is caught.
            if !attached {
                let other = s.save("tampered.txt", b"Rx: something else");
                let (ok, _) = cms_verify(&s.root_pem(), &sig, Some(&other));
                assert!(!ok, "{alg}: tampered content verified");
            }
            check_cades(&r.body, alg);
        }
        // Digest-only: the document never reaches the service.
        let (name, algorithm) = match alg {
            "p384" => ("sha384", &ring::digest::SHA384),
            "ed25519" => ("sha512", &ring::digest::SHA512),
            _ => ("sha256", &ring::digest::SHA256),
        };
        use base64::Engine;
        let digest = base64::engine::general_purpose::STANDARD.encode(sha(algorithm, &document));
        let r = s.post_json(
            "/v1/signatures",
            Some(&token),
            &serde_json::json!({"credential": cred, "digest": digest, "digest_algorithm": name, "purpose": "author"}),
        );
        assert_eq!(r.status, 201, "{alg}: {}", r.text());
        signatures += 1;
        let der = base64::engine::general_purpose::STANDARD
            .decode(r.json()["signature"].as_str().unwrap())
            .unwrap();
        if alg != "ed25519" {
            let sig = s.save(&format!("{alg}-digest.p7s"), &der);
            let (ok, text) = cms_verify(&s.root_pem(), &sig, Some(&doc));
            assert!(ok, "{alg} digest: {text}");
        }
    }
    assert_eq!(signature_audits(s), signatures);
}

/// The CAdES attributes OpenSSL does not check: ESS signingCertificateV2 must hash and name the
/// signer certificate; signingTime and the commitment type must be there and decode.
fn check_cades(der: &[u8], alg: &str) {
    use ca_core::oid;
    use ca_core::sign::{CommitmentTypeIndication, SigningCertificateV2};
    use cms::content_info::ContentInfo;
    use cms::signed_data::{SignedData, SignerIdentifier};
    use x509_cert::der::{Decode, Encode};
    let info = ContentInfo::from_der(der).unwrap();
    let sd: SignedData = info.content.decode_as().unwrap();
    assert_eq!(sd.signer_infos.0.len(), 1);
    let si = sd.signer_infos.0.get(0).unwrap();
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &si.sid else {
        panic!("{alg}: sid is not issuerAndSerialNumber")
    };
    let signer = sd
        .certificates
        .as_ref()
        .unwrap()
        .0
        .iter()
        .find_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c)
                if c.tbs_certificate().serial_number() == &sid.serial_number =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("signer certificate embedded");
    let attr = |id| {
        let attrs = si.signed_attrs.as_ref().unwrap();
        let a = attrs
            .iter()
            .find(|a| a.oid == id)
            .unwrap_or_else(|| panic!("{alg}: no {id}"));
        a.values.get(0).unwrap().clone()
    };
    let ess: SigningCertificateV2 = attr(oid::ID_AA_SIGNING_CERTIFICATE_V_2)
        .decode_as()
        .unwrap();
    let want = sha(&ring::digest::SHA256, &signer.to_der().unwrap());
    assert_eq!(
        ess.certs[0].cert_hash.as_bytes(),
        want.as_slice(),
        "{alg}: ESS certHash"
    );
    let serial = &ess.certs[0].issuer_serial.as_ref().unwrap().serial_number;
    assert_eq!(
        serial,
        signer.tbs_certificate().serial_number(),
        "{alg}: ESS issuerSerial"
    );
    let time: x509_cert::time::Time = attr(oid::ID_SIGNING_TIME).decode_as().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        time.to_unix_duration().as_secs().abs_diff(now) < 600,
        "{alg}: signingTime"
    );
    let cti: CommitmentTypeIndication = attr(oid::ID_AA_ETS_COMMITMENT_TYPE).decode_as().unwrap();
    // ASTM E1762 "Author's Signature" (iso17090.md §5.3).
    assert_eq!(
        cti.commitment_type_id.to_string(),
        "1.2.840.10065.1.12.1.1",
        "{alg}"
    );
}

/// Every refusal has its status; and (issue 12 item 7, fails on main, which audited none) each
/// refused attempt on a credential is a `sign_refused` record of it naming the reason, with the
/// chain still verifying under the audit key.
#[test]
fn refusals_have_the_right_status_and_are_audited_as_refusals() {
    let s = start(&[("HPKI_DOCUMENT_LIMIT", "4096"), ("HPKI_JSON_LIMIT", "2048")]);
    let (cred, token) = s.credential("DOC-1", Some("Medical Doctor"), "p256");
    let (pharm_cred, pharm_token) = s.credential("PHARM-1", Some("Pharmacist"), "p256");
    let doc = b"clinical note";
    let url = |c: &str, p: &str| format!("/v1/signatures?credential={c}&purpose={p}");
    let octet = "application/octet-stream";
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let good_digest = b64(&sha(&ring::digest::SHA256, doc));
    let json = |c: &str, d: &str, alg: &str| serde_json::json!({"credential": c, "digest": d, "digest_algorithm": alg, "purpose": "author"});

    // Issue 12 item 8 (fails on main, which signed these): a claimed role is signed and audited,
    // so NUL, U+202E and an over-long value are refused, naming the field.
    let long_role = "r".repeat(257);
    for (role, want) in [
        (
            "doctor\u{0}nurse",
            "claimed_role holds U+0000 at character 6",
        ),
        (
            "doctor \u{202E}esrun",
            "claimed_role holds U+202E at character 7",
        ),
        (
            long_role.as_str(),
            "claimed_role is 257 characters; the limit is 256",
        ),
    ] {
        let mut body = json(&cred, &good_digest, "sha256");
        body["claimed_role"] = role.into();
        let d = s
            .post_json("/v1/signatures", Some(&token), &body)
            .problem_at(400, role);
        assert!(d.contains(want), "{d}");
    }
    let d = s
        .post_bytes(
            &format!("{}&claimed_role=doctor%E2%80%AEesrun", url(&cred, "author")),
            Some(&token),
            octet,
            doc,
        )
        .problem(400);
    assert!(d.contains("claimed_role holds U+202E"), "{d}");

    // Authentication.
    let d = s
        .post_bytes(&url(&cred, "author"), None, octet, doc)
        .problem(401);
    assert!(d.contains("no credentials"), "{d}");
    s.post_bytes(&url(&cred, "author"), Some("hpki_00_00"), octet, doc)
        .problem(401);
    // Change the last secret digit (to "0", or to "1" when it already is "0").
    let forged = match token.strip_suffix('0') {
        Some(head) => format!("{head}1"),
        None => format!("{}0", &token[..token.len() - 1]),
    };
    s.post_bytes(&url(&cred, "author"), Some(&forged), octet, doc)
        .problem(401);
    let t = s.post_json(
        "/v1/tokens",
        Some(&s.demo.ra),
        &serde_json::json!({"scope": "signer", "practitioner": "DOC-1", "lifetime_seconds": 1}),
    );
    assert_eq!(t.status, 201, "{}", t.text());
    let short = t.json()["token"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let d = s
        .post_bytes(&url(&cred, "author"), Some(&short), octet, doc)
        .problem(401);
    assert!(d.contains("expired"), "{d}");

    // Authorisation: another practitioner's credential; RA-only routes; signer-only route.
    let d = s
        .post_bytes(&url(&cred, "author"), Some(&pharm_token), octet, doc)
        .problem(403);
    assert!(d.contains("another practitioner"), "{d}");
    s.post_json(
        "/v1/credentials",
        Some(&token),
        &serde_json::json!({"subject": "C=JP,CN=x,serialNumber=x"}),
    )
    .problem(403);
    s.get("/v1/certificates", Some(&token)).problem(403);
    s.post_bytes(&url(&cred, "author"), Some(&s.demo.ra), octet, doc)
        .problem(403);
    let own = s.get("/v1/credentials", Some(&pharm_token)).json();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["id"], pharm_cred.as_str());
    s.get("/v1/credentials?owner=DOC-1", Some(&pharm_token))
        .problem(403);

    // The role gate names the role and the purpose.
    let d = s
        .post_bytes(&url(&pharm_cred, "author"), Some(&pharm_token), octet, doc)
        .problem(403);
    assert!(d.contains("Pharmacist") && d.contains("author"), "{d}");
    s.post_bytes(&url(&cred, "no-such-purpose"), Some(&token), octet, doc)
        .problem(400);
    // An authentication certificate never signs: no credential is made under an authentication profile.
    let d = s
        .post_json(
            "/v1/credentials",
            Some(&s.demo.ra),
            &serde_json::json!({"profile": "rhp-auth", "subject": "C=JP,CN=A,serialNumber=DOC-1",
                "hc_roles": [format!("{JP}:Medical Doctor")]}),
        )
        .problem(400);
    assert!(
        d.contains("rhp-auth") && d.contains("nonRepudiation"),
        "{d}"
    );

    // Malformed requests.
    s.post_bytes(
        "/v1/signatures",
        Some(&token),
        "application/json",
        b"{not json",
    )
    .problem(400);
    s.post_bytes(&url(&cred, "author"), Some(&token), "text/plain", doc)
        .problem(415);
    s.post_json(
        "/v1/signatures",
        Some(&token),
        &json(&cred, "%%%not base64", "sha256"),
    )
    .problem(400);
    let d = s
        .post_json(
            "/v1/signatures",
            Some(&token),
            &json(&cred, &b64(&[1; 20]), "sha256"),
        )
        .problem(400);
    assert!(d.contains("20 octets"), "{d}");
    s.post_json(
        "/v1/signatures",
        Some(&token),
        &json(&cred, &b64(&[1; 48]), "sha384"),
    )
    .problem(400);
    s.post_json(
        "/v1/signatures",
        Some(&token),
        &json(&cred, &good_digest, "md5"),
    )
    .problem(400);
    let d = s
        .post_bytes(&url(&cred, "author"), Some(&token), octet, &vec![0u8; 5000])
        .problem(413);
    assert!(d.contains("4096"), "{d}");
    let big = serde_json::json!({"credential": cred, "digest": "A".repeat(3000), "digest_algorithm": "sha256", "purpose": "author"});
    s.post_json("/v1/signatures", Some(&token), &big)
        .problem(413);
    s.post_json(
        "/v1/signatures",
        Some(&token),
        &json("cred_nope", &good_digest, "sha256"),
    )
    .problem(404);

    // A revoked credential cannot sign.
    let serial = s.revoke_first_of("DOC-1");
    let d = s
        .post_json(
            "/v1/signatures",
            Some(&token),
            &json(&cred, &good_digest, "sha256"),
        )
        .problem(403);
    assert!(d.contains("revoked"), "{d}");
    // The CRL served now lists it.
    let crl = s.get("/v1/crl/sign", None);
    let path = s.save("after.crl", &crl.body);
    let (_, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        text.to_uppercase().contains(&serial.to_uppercase()),
        "{text}"
    );

    let token_id = token.split('_').nth(1).unwrap().to_owned();
    let pharm_id = pharm_token.split('_').nth(1).unwrap().to_owned();
    let data = s.dir.path().join("data");
    let mut s = s;
    s.child_kill();
    let log = support::audit_list(&data);
    assert!(
        !log.iter().any(|r| r["event"]["action"] == "sign"),
        "a refusal left a signature audit record"
    );
    let refusals: Vec<(String, String, String, String)> = log
        .iter()
        .filter(|r| r["event"]["action"] == "sign_refused")
        .map(|r| {
            let reason = support::detail(r, "reason").unwrap().to_owned();
            // Never the document or its digest, never a refused client string.
            for (k, _) in r["event"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].clone(), p[1].clone()))
            {
                assert!(
                    ["reason", "caller", "purpose"].contains(&k.as_str().unwrap()),
                    "{r}"
                );
            }
            (
                r["event"]["object"].as_str().unwrap().to_owned(),
                r["event"]["actor"].as_str().unwrap().to_owned(),
                support::detail(r, "caller").unwrap().to_owned(),
                reason,
            )
        })
        .collect();
    let on = |c: &str| format!("credential:{c}");
    let doc = |reason: &str| {
        (
            on(&cred),
            format!("token:{token_id}"),
            "DOC-1".to_owned(),
            reason.to_owned(),
        )
    };
    let mut want = vec![doc("invalid_claimed_role"); 4];
    want.extend([
        (
            on(&cred),
            format!("token:{pharm_id}"),
            "PHARM-1".to_owned(),
            "not_owner".to_owned(),
        ),
        (
            on(&pharm_cred),
            format!("token:{pharm_id}"),
            "PHARM-1".to_owned(),
            "role_gate".to_owned(),
        ),
        doc("unknown_purpose"),
        doc("wrong_digest_length"),
        doc("wrong_digest_algorithm"),
        doc("revoked"),
    ]);
    assert_eq!(refusals, want);
    let out = admin(&data, &["audit", "verify"]);
    assert!(
        out.starts_with("audit log OK") && out.contains("from record 1"),
        "{out}"
    );
}

/// The embedded default: first start prints a demo credential and tokens that work at once; a
/// restart on the same data directory prints no tokens and keeps the CA.
#[test]
fn embedded_default_demo_signs_and_restart_keeps_state() {
    let mut s = start(&[]);
    let doc = s.save("note.txt", b"discharge summary");
    let r = s.post_bytes(
        &format!(
            "/v1/signatures?credential={}&purpose=author",
            s.demo.credential
        ),
        Some(&s.demo.signer),
        "application/octet-stream",
        b"discharge summary",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let sig = s.save("note.p7s", &r.body);
    let (ok, text) = cms_verify(&s.root_pem(), &sig, Some(&doc));
    assert!(ok, "{text}");
    let root_before = std::fs::read(s.root_pem()).unwrap();

    s.child_kill();
    // A restart: `spawn` reads up to the root certificate line, as the store exists.
    let (child, seen) = support::spawn(&s.dir.path().join("data"), &[]);
    drop(child);
    assert!(
        seen.iter().any(|l| l.starts_with("listening on http://")),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|l| l.contains("token")),
        "tokens printed twice: {seen:?}"
    );
    assert_eq!(std::fs::read(s.root_pem()).unwrap(), root_before);
}

/// A child process killed when the test ends, even by a failed assertion, so no server outlives
/// its test (and holds the test runner's output pipe open).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A P-256 key (PEM, PKCS#8) and a certificate issued for it by our CA under `profile`.
fn issued(
    dir: &Path,
    data: &Path,
    name: &str,
    profile: &str,
    subject: &str,
    extra: &[&str],
) -> (PathBuf, PathBuf) {
    let (key, csr) = support::p256_request(dir, name);
    let cert = dir.join(format!("{name}.pem"));
    let mut args = support::issue_args(profile, &csr, subject, &["--out", cert.to_str().unwrap()]);
    args.extend_from_slice(extra);
    admin(data, &args);
    (cert, key)
}

fn tls_agent(root: &Path, client: Option<(&Path, &Path)>) -> ureq::Agent {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(root).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(config))
        .build()
}

/// With mTLS on, a practitioner's authentication certificate (ISO 17090-5) identifies them and they
/// sign with their own credential; a signing certificate or another CA's certificate is refused.
#[test]
fn mtls_authentication_certificate_signs_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    admin(&data, &["init"]);
    let role = format!("{JP}:Medical Doctor");
    let doctor = ["--hc-role", role.as_str()];
    let [
        (server_cert, server_key),
        (auth_cert, auth_key),
        (other_auth, other_key),
        (sign_cert, sign_key),
    ] = [
        (
            "server",
            "org-tls",
            "C=JP,O=Example Hospital,CN=localhost",
            &["--san", "dns:localhost", "--san", "ip:127.0.0.1"][..],
        ),
        (
            "auth",
            "rhp-auth",
            "C=JP,CN=Dr Auth,serialNumber=P-1",
            &doctor,
        ),
        (
            "other",
            "rhp-auth",
            "C=JP,CN=Dr Other,serialNumber=P-2",
            &doctor,
        ),
        (
            "signing",
            "rhp-sign",
            "C=JP,CN=Dr Auth,serialNumber=P-1",
            &doctor,
        ),
    ]
    .map(|(name, profile, subject, extra)| issued(d, &data, name, profile, subject, extra));
    let foreign = d.join("foreign.pem");
    let foreign_key = d.join("foreign.key");
    let (ok, text) = openssl(&[
        "req",
        "-x509",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        "/C=JP/CN=Dr Auth/serialNumber=P-1",
        "-addext",
        "extendedKeyUsage=clientAuth",
        "-keyout",
        foreign_key.to_str().unwrap(),
        "-out",
        foreign.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let ra = admin(&data, &["token", "--scope", "ra"]).trim().to_owned();
    // The server presents its certificate and the authentication CA that issued it.
    let chain = d.join("server-chain.pem");
    let mut pem = std::fs::read(&server_cert).unwrap();
    pem.extend(std::fs::read(data.join("ca/auth.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();

    let tls = [
        ("HPKI_TLS_CERT", chain.to_str().unwrap()),
        ("HPKI_TLS_KEY", server_key.to_str().unwrap()),
        ("HPKI_TLS_CLIENT_AUTH", "1"),
    ];
    let (server, _) = support::spawn(&data, &tls);
    let base = server.base.replace("127.0.0.1", "localhost");
    assert!(base.starts_with("https://"), "{base}");
    let root = data.join("ca/root.pem");

    // The RA, by token over TLS, creates P-1's signing credential.
    let anonymous = tls_agent(&root, None);
    let r = reply(
        anonymous
            .post(&format!("{base}/v1/credentials"))
            .set("Authorization", &format!("Bearer {ra}"))
            .send_json(serde_json::json!({"subject": "C=JP,O=Example Hospital,CN=Dr Auth,serialNumber=P-1", "hc_roles": [role]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let cred = r.json()["id"].as_str().unwrap().to_owned();
    let sign_url = format!("{base}/v1/signatures?credential={cred}&purpose=author");
    let post = |agent: &ureq::Agent| {
        reply(
            agent
                .post(&sign_url)
                .set("Content-Type", "application/octet-stream")
                .send_bytes(b"referral letter"),
        )
    };

    // P-1's authentication certificate, no token: signs.
    let r = post(&tls_agent(&root, Some((&auth_cert, &auth_key))));
    assert_eq!(r.status, 201, "{}", r.text());
    // Another practitioner's authentication certificate: not their credential.
    post(&tls_agent(&root, Some((&other_auth, &other_key)))).problem(403);
    // No certificate and no token.
    post(&anonymous).problem(401);
    // A signing certificate never authenticates; another CA's certificate neither. rustls as a
    // client will not even load a certificate with a critical policy extension, so curl (OpenSSL)
    // presents them.
    for (cert, key) in [(&sign_cert, &sign_key), (&foreign, &foreign_key)] {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&root)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .args([
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                "x",
                &sign_url,
            ])
            .output()
            .expect("curl is needed for this test");
        let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // Refused in the handshake (curl fails, code 000) or, at most, unauthenticated.
        assert!(
            !out.status.success() || code == "401",
            "{} accepted with HTTP {code}",
            cert.display()
        );
        assert_ne!(code, "201");
    }

    // Once revoked, P-1's authentication certificate no longer authenticates (issue 6 part 5).
    let list = reply(
        anonymous
            .get(&format!("{base}/v1/certificates?profile=rhp-auth"))
            .set("Authorization", &format!("Bearer {ra}"))
            .call(),
    )
    .json();
    let serial = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"].as_str().unwrap().contains("P-1"))
        .expect("P-1's authentication certificate in the inventory")["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = reply(
        anonymous
            .post(&format!("{base}/v1/certificates/{serial}/revoke"))
            .set("Authorization", &format!("Bearer {ra}"))
            .send_json(serde_json::json!({"reason": "keyCompromise"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let d = post(&tls_agent(&root, Some((&auth_cert, &auth_key)))).problem(401);
    assert!(d.contains("revoked"), "{d}");

    // Once the authentication CA itself is revoked, no certificate under it authenticates: P-2's
    // was authenticated (403 above, not their credential) and now is not.
    let list = reply(
        anonymous
            .get(&format!("{base}/v1/certificates?profile=auth-ca"))
            .set("Authorization", &format!("Bearer {ra}"))
            .call(),
    )
    .json();
    let ca_serial = list["items"][0]["serial"].as_str().unwrap().to_owned();
    let r = reply(
        anonymous
            .post(&format!("{base}/v1/certificates/{ca_serial}/revoke"))
            .set("Authorization", &format!("Bearer {ra}"))
            .send_json(serde_json::json!({"reason": "cACompromise"})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let d = post(&tls_agent(&root, Some((&other_auth, &other_key)))).problem(401);
    assert!(d.contains("issuing CA is revoked"), "{d}");
}

/// Issue 12 item 1: only a profile whose policy file says `authenticates = "practitioner"`
/// (rhp-auth) maps a client certificate to a practitioner. A device-tls or support-auth
/// certificate carrying the doctor's serialNumber authenticates as what it is and can neither sign
/// with nor list the doctor's credentials (403, problem+json); the doctor's rhp-auth still can.
#[test]
fn mtls_only_practitioner_profiles_use_practitioner_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    admin(&data, &["init"]);
    let role = format!("{JP}:Medical Doctor");
    let doctor = ["--hc-role", role.as_str()];
    let [
        (server_cert, server_key),
        (auth_cert, auth_key),
        (pump_cert, pump_key),
        (support_cert, support_key),
    ] = [
        (
            "server",
            "org-tls",
            "C=JP,O=Example Hospital,CN=localhost",
            &["--san", "dns:localhost", "--san", "ip:127.0.0.1"][..],
        ),
        (
            "auth",
            "rhp-auth",
            "C=JP,CN=Dr Auth,serialNumber=P-1",
            &doctor,
        ),
        (
            "pump",
            "device-tls",
            "C=JP,O=Example Hospital,CN=Infusion Pump 7,serialNumber=P-1",
            &[],
        ),
        (
            "support",
            "support-auth",
            "C=JP,O=Example IT Services,CN=Help Desk,serialNumber=P-1",
            &[],
        ),
    ]
    .map(|(name, profile, subject, extra)| issued(d, &data, name, profile, subject, extra));
    let ra = admin(&data, &["token", "--scope", "ra"]).trim().to_owned();
    let chain = d.join("server-chain.pem");
    let mut pem = std::fs::read(&server_cert).unwrap();
    pem.extend(std::fs::read(data.join("ca/auth.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    let tls = [
        ("HPKI_TLS_CERT", chain.to_str().unwrap()),
        ("HPKI_TLS_KEY", server_key.to_str().unwrap()),
        ("HPKI_TLS_CLIENT_AUTH", "1"),
    ];
    let (server, _) = support::spawn(&data, &tls);
    let base = server.base.replace("127.0.0.1", "localhost");
    let root = data.join("ca/root.pem");
    let r = reply(
        tls_agent(&root, None)
            .post(&format!("{base}/v1/credentials"))
            .set("Authorization", &format!("Bearer {ra}"))
            .send_json(serde_json::json!({"subject": "C=JP,O=Example Hospital,CN=Dr Auth,serialNumber=P-1", "hc_roles": [role]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let cred = r.json()["id"].as_str().unwrap().to_owned();
    let sign = |agent: &ureq::Agent| {
        reply(
            agent
                .post(&format!(
                    "{base}/v1/signatures?credential={cred}&purpose=author"
                ))
                .set("Content-Type", "application/octet-stream")
                .send_bytes(b"infusion rate 5 ml/h"),
        )
    };
    let list = |agent: &ureq::Agent| reply(agent.get(&format!("{base}/v1/credentials")).call());

    for (what, cert, key) in [
        ("device-tls", &pump_cert, &pump_key),
        ("support-auth", &support_cert, &support_key),
    ] {
        let agent = tls_agent(&root, Some((cert, key)));
        let detail = sign(&agent).problem_at(403, what);
        assert!(
            detail.contains(&format!("a {what} certificate"))
                && detail.contains("not a practitioner"),
            "{what}: {detail}"
        );
        let detail = list(&agent).problem_at(403, what);
        assert!(detail.contains("not a practitioner"), "{what}: {detail}");
    }
    let doctor = tls_agent(&root, Some((&auth_cert, &auth_key)));
    let r = sign(&doctor);
    assert_eq!(r.status, 201, "{}", r.text());
    // Raising a signature spends the installation's tokens and audit records: a practitioner's
    // certificate may, a device's or a help desk's may not (`Principal::may_augment`).
    let augment = |agent: &ureq::Agent| {
        reply(
            agent
                .post(&format!("{base}/v1/signatures/augment?level=B-LT"))
                .set("Content-Type", "application/pkcs7-signature")
                .send_bytes(&r.body),
        )
    };
    for (what, cert, key) in [
        ("device-tls", &pump_cert, &pump_key),
        ("support-auth", &support_cert, &support_key),
    ] {
        let detail = augment(&tls_agent(&root, Some((cert, key)))).problem_at(403, what);
        assert!(
            detail.contains(&format!("a {what} certificate"))
                && detail.contains("raising a signature needs"),
            "{what}: {detail}"
        );
    }
    let raised = augment(&doctor);
    assert_eq!(raised.status, 200, "{}", raised.text());
    assert_eq!(
        ca_core::cades::detect_level(&raised.body, 0).unwrap(),
        ca_core::cades::Level::BLT
    );
    let r = list(&doctor);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["id"], cred.as_str());
}

/// Issue 12 item 2: tokens are listed and revoked, by the RA routes and by the admin CLI, and a
/// revoked token is refused from its next request on (the rate limiter, on by default, verifies
/// tokens first and must not let it through); a minted token never outlives its minter nor the
/// configured maximum.
#[test]
fn tokens_are_listed_revoked_and_capped() {
    let mut s = start(&[
        ("HPKI_TOKEN_MAX_DAYS", "60"),
        ("HPKI_SIGNER_TOKEN_DAYS", "60"),
    ]);
    let id_of = |token: &str| token.split('_').nth(1).unwrap().to_owned();
    let mint = |by: &str, body: serde_json::Value| {
        let r = s.post_json("/v1/tokens", Some(by), &body);
        assert_eq!(r.status, 201, "{}", r.text());
        let j = r.json();
        (
            j["token"].as_str().unwrap().to_owned(),
            j["expires_at"].as_str().unwrap().to_owned(),
        )
    };

    // An RA token cannot mint a ten-year token, nor one beyond the configured 60 days.
    for days in [3650, 61] {
        let d = s
            .post_json(
                "/v1/tokens",
                Some(&s.demo.ra),
                &serde_json::json!({"scope": "ra", "lifetime_days": days}),
            )
            .problem(400);
        assert!(
            d.contains("lifetime_days is 1 to 60 (tokens.max_days)"),
            "{d}"
        );
    }
    // A token minted by a token expiring in 120 s expires with it, not 30 days later.
    let (short, short_expiry) = mint(
        &s.demo.ra,
        serde_json::json!({"scope": "ra", "lifetime_seconds": 120}),
    );
    let (signer, signer_expiry) = mint(
        &short,
        serde_json::json!({"scope": "signer", "practitioner": "DEMO-0001", "lifetime_days": 30}),
    );
    assert_eq!(signer_expiry, short_expiry);
    assert_eq!(s.get("/v1/credentials", Some(&signer)).status, 200);

    // The RA lists tokens, never their secrets or hashes.
    let list = s.get("/v1/tokens", Some(&s.demo.ra));
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(!list.text().contains("secret"), "{}", list.text());
    let listed = |list: &serde_json::Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed in {list}"))
            .clone()
    };
    let entry = listed(&list.json(), &id_of(&signer));
    assert_eq!(entry["scope"], "signer");
    assert_eq!(entry["practitioner"], "DEMO-0001");
    assert_eq!(entry["revoked"], false);
    // A signer token may neither list nor revoke.
    s.get("/v1/tokens", Some(&signer)).problem(403);

    // Revoked by the RA route: its very next request is refused.
    let delete = |id: &str, by: &str| {
        reply(
            support::bearer(
                support::agent().delete(&format!("{}/v1/tokens/{id}", s.base)),
                Some(by),
            )
            .call(),
        )
    };
    delete(&id_of(&s.demo.ra), &signer).problem(403);
    let r = delete(&id_of(&signer), &s.demo.ra);
    assert_eq!(r.status, 204, "{}", r.text());
    let d = s.get("/v1/credentials", Some(&signer)).problem(401);
    assert!(d.contains("revoked"), "{d}");
    assert!(
        delete(&id_of(&signer), &s.demo.ra)
            .problem(409)
            .contains("already revoked")
    );
    assert_eq!(
        listed(
            &s.get("/v1/tokens", Some(&s.demo.ra)).json(),
            &id_of(&signer)
        )["revoked"],
        true
    );

    // Revoked by the admin CLI (the service stopped, as the store allows one process), with an
    // audit record naming the token; refused once the service is back.
    s.server.kill();
    let data = s.path("data");
    let (ok, out, err) = support::admin(&data, &["token", "revoke", &id_of(&short)]);
    assert!(ok && out.contains(&id_of(&short)), "{out}{err}");
    let cli_list: Vec<serde_json::Value> = admin(&data, &["token", "list"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let entry = listed(&serde_json::Value::Array(cli_list), &id_of(&short));
    assert_eq!(entry["revoked"], true);
    let audited: Vec<_> = support::audit_list(&data)
        .into_iter()
        .filter(|r| r["event"]["action"] == "revoke_token")
        .map(|r| r["event"]["object"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        audited,
        [
            format!("token:{}", id_of(&signer)),
            format!("token:{}", id_of(&short))
        ]
    );
    let (server, _) = support::spawn(&data, &[]);
    let r = reply(
        support::bearer(
            support::agent().get(&format!("{}/v1/tokens", server.base)),
            Some(&short),
        )
        .call(),
    );
    assert!(r.problem(401).contains("revoked"));
}

/// Seconds since the Unix epoch, the clock the server reads.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Issue 6 part 5: a client certificate is refused outside its validity. Validity comes in whole
/// days, so pairs of P-1 authentication certificates are issued in-process on the stopped
/// server's data directory with a shifted issuance time: in each pair `expiring` ends and
/// `pending` begins at the same second `flip`, a few seconds ahead. Each certificate is accepted
/// on one side of `flip` and refused on the other, so the test fails if either bound is ignored.
#[test]
fn mtls_certificate_outside_its_validity_is_refused() {
    use x509_cert::der::{Decode, EncodePem, pem::LineEnding};
    const DAY: u64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    admin(&data, &["init"]);
    let (server_cert, server_key) = issued(
        d,
        &data,
        "server",
        "org-tls",
        "C=JP,O=Example Hospital,CN=localhost",
        &["--san", "dns:localhost", "--san", "ip:127.0.0.1"],
    );
    let chain = d.join("server-chain.pem");
    let mut pem = std::fs::read(&server_cert).unwrap();
    pem.extend(std::fs::read(data.join("ca/auth.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    // Keep-alive outlasts `flip`, so a connection opened while `expiring` was valid is still
    // open after it ends: there the per-request check, not the handshake, must refuse it.
    let config = d.join("serve.toml");
    std::fs::write(&config, "[limits]\nkeep_alive_seconds = 300\n").unwrap();

    // A loaded machine may start the server late, missing a pair's time before its flip: the
    // next pair then has a longer lead. Each entry: (flip, expiring (cert, key), pending (cert, key)).
    let start = unix_now();
    let mut pairs = Vec::new();
    {
        let authority = signer_api::datadir::DataDir::new(&data, None)
            .open_authority()
            .unwrap();
        let issue_at = |name: String, at: u64| {
            let (key, csr) = support::p256_request(d, &name);
            let registration = ca_core::issue::Registration {
                profile: "rhp-auth".into(),
                subject: ca_core::name::parse_subject("C=JP,CN=Dr Auth,serialNumber=P-1").unwrap(),
                sans: Vec::new(),
                hc_roles: vec![format!("{JP}:Medical Doctor").parse().unwrap()],
                validity_days: Some(1),
            };
            let issued = authority
                .issue(&registration, &std::fs::read(csr).unwrap(), at, "test")
                .unwrap();
            let cert = d.join(format!("{name}.pem"));
            let pem = x509_cert::Certificate::from_der(&issued.certificate)
                .unwrap()
                .to_pem(LineEnding::LF)
                .unwrap();
            std::fs::write(&cert, pem).unwrap();
            (cert, key)
        };
        for lead in [3, 15, 60] {
            let flip = start + lead;
            let expiring = issue_at(format!("expiring-{lead}"), flip - DAY);
            let pending = issue_at(format!("pending-{lead}"), flip);
            pairs.push((flip, expiring, pending));
        }
    }

    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_signer-api"))
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env("HPKI_TLS_CERT", &chain)
            .env("HPKI_TLS_KEY", &server_key)
            .env("HPKI_TLS_CLIENT_AUTH", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .find_map(|l| l.unwrap().strip_prefix("listening on ").map(str::to_owned))
        .unwrap()
        .replace("127.0.0.1", "localhost");
    std::thread::spawn(move || for _ in lines {});
    let root = data.join("ca/root.pem");
    let url = format!("{base}/v1/credentials");
    // rustls refuses a certificate outside its validity in the handshake with the TLS alert
    // certificate_expired (RFC 8446 §6.2: "expired or is not currently valid").
    let handshake_refused = |r: Result<ureq::Response, ureq::Error>, what: &str| match r {
        Err(ureq::Error::Transport(t)) => {
            let t = t.to_string();
            assert!(t.contains("CertificateExpired"), "{what}: {t}");
        }
        Ok(r) => panic!("{what}: accepted with HTTP {}", r.status()),
        Err(e) => panic!("{what}: {e}"),
    };

    for (flip, expiring, pending) in pairs {
        if unix_now() >= flip {
            continue;
        }
        let expiring_agent = tls_agent(&root, Some((&expiring.0, &expiring.1)));
        let pending_agent = tls_agent(&root, Some((&pending.0, &pending.1)));
        let before = reply(expiring_agent.get(&url).call());
        let early = pending_agent.get(&url).call();
        if unix_now() >= flip {
            continue; // this pair's first phase did not end before its flip
        }
        // Before `flip`: `expiring` authenticates P-1 (200, an empty list), `pending` is refused.
        assert_eq!(
            before.status,
            200,
            "{}",
            String::from_utf8_lossy(&before.body)
        );
        assert_eq!(before.json(), serde_json::json!([]));
        handshake_refused(early, "not yet valid");

        while unix_now() <= flip {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // After `flip`, on the connection `expiring` opened while valid (ureq reuses it): 401.
        let detail = reply(expiring_agent.get(&url).call()).problem(401);
        assert!(detail.contains("outside its validity"), "{detail}");
        // On a new connection the handshake refuses it.
        let fresh = tls_agent(&root, Some((&expiring.0, &expiring.1)));
        handshake_refused(fresh.get(&url).call(), "expired");
        // And `pending` has become valid.
        let after = reply(pending_agent.get(&url).call());
        assert_eq!(
            after.status,
            200,
            "{}",
            String::from_utf8_lossy(&after.body)
        );
        return;
    }
    panic!("the server answered only after every pair's flip (60 s after issuance)");
}

/// A 1 GiB document is hashed as it streams: the server's peak memory stays under 100 MB, and the
/// signature's messageDigest is the SHA-256 of the whole stream.
#[test]
fn signing_a_1_gib_stream_stays_under_100_mb() {
    const SIZE: u64 = 1 << 30;
    let s = start(&[("HPKI_DOCUMENT_LIMIT", &(2 * SIZE).to_string())]);
    let r = reply(
        ureq::post(&format!(
            "{}/v1/signatures?credential={}&purpose=author",
            s.base, s.demo.credential
        ))
        .set("Authorization", &format!("Bearer {}", s.demo.signer))
        .set("Content-Type", "application/octet-stream")
        .set("Content-Length", &SIZE.to_string())
        .send(std::io::repeat(b'x').take(SIZE)),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let peak = peak_rss(s.pid());
    assert!(
        peak < 100 * 1024 * 1024,
        "server peak RSS {} MB",
        peak >> 20
    );

    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let block = vec![b'x'; 1 << 20];
    for _ in 0..(SIZE >> 20) {
        ctx.update(&block);
    }
    let want = ctx.finish();
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use x509_cert::der::Decode;
    let sd: SignedData = ContentInfo::from_der(&r.body)
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    let si = sd.signer_infos.0.get(0).unwrap();
    let md = si
        .signed_attrs
        .as_ref()
        .unwrap()
        .iter()
        .find(|a| a.oid == ca_core::oid::ID_MESSAGE_DIGEST)
        .unwrap();
    let md: x509_cert::der::asn1::OctetString = md.values.get(0).unwrap().decode_as().unwrap();
    assert_eq!(md.as_bytes(), want.as_ref());
}

/// The signature CA is in the certificate inventory: revoking it over the API puts it on the
/// root's CRL at once, and nothing is signed or issued under it any more.
#[test]
fn revoking_the_signature_ca_stops_signing_and_issuing_under_it() {
    let s = start(&[]);
    let (cred, token) = s.credential("CA-REV-1", Some("Medical Doctor"), "p256");
    let sign = |token: &str| {
        s.post_bytes(
            &format!("/v1/signatures?credential={cred}&purpose=author"),
            Some(token),
            "application/octet-stream",
            b"referral letter",
        )
    };
    assert_eq!(sign(&token).status, 201);

    let list = s
        .get("/v1/certificates?profile=sign-ca", Some(&s.demo.ra))
        .json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["issuer"], "root");
    let serial = items[0]["serial"].as_str().unwrap().to_owned();
    let r = s.post_json(
        &format!("/v1/certificates/{serial}/revoke"),
        Some(&s.demo.ra),
        &serde_json::json!({"reason": "cACompromise"}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "revoked");

    let crl = s.get("/v1/crl/root", None);
    let crl: x509_cert::crl::CertificateList = x509_cert::der::Decode::from_der(&crl.body).unwrap();
    let listed: Vec<String> = crl
        .tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| hex::encode(r.serial_number.as_bytes()))
        .collect();
    assert_eq!(listed, vec![serial]);

    let d = sign(&token).problem(403);
    assert!(d.contains("revoked"), "{d}");
    let r = s.post_json(
        "/v1/credentials",
        Some(&s.demo.ra),
        &serde_json::json!({
            "subject": "C=JP,O=hpki Demo Hospital,CN=CA-REV-2,serialNumber=CA-REV-2",
            "hc_roles": [format!("{JP}:Medical Doctor")],
        }),
    );
    let d = r.problem(409);
    assert!(d.contains("revoked"), "{d}");
}

/// Issue 12 item 7 (fails on main, which neither counted nor logged them): failed
/// authentications are counted per client in /metrics (a stored token's id, else the address;
/// never an id the client made up) and logged at a bounded rate.
#[test]
fn failed_authentications_are_counted_per_client_and_logged_at_a_bounded_rate() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let (mut server, lines) =
        support::spawn_logged(&dir.path().join("data"), &[], Some(log.as_path()));
    let demo = Demo::printed(&lines).unwrap();
    let id = demo.signer.split('_').nth(1).unwrap();
    let wrong_secret = format!("hpki_{id}_{}", "0".repeat(64));
    for _ in 0..5 {
        server
            .get("/v1/credentials", Some(&wrong_secret))
            .problem(401);
    }
    let mut made_up = Vec::new();
    for i in 0..40 {
        let token = format!("hpki_{:032x}_{}", 0xfeed_0000u64 + i, "1".repeat(64));
        server.get("/v1/credentials", Some(&token)).problem(401);
        made_up.push(token);
    }
    server.get("/v1/credentials", None).problem(401);
    // A good token is not a failure.
    assert_eq!(
        server.get("/v1/credentials", Some(&demo.signer)).status,
        200
    );

    let metrics = server.get("/metrics", None).text();
    for want in [
        format!("hpki_auth_failures_total{{client=\"token:{id}\",reason=\"wrong_secret\"}} 5"),
        "hpki_auth_failures_total{client=\"ip:127.0.0.1\",reason=\"unknown_token\"} 40".into(),
        "hpki_auth_failures_total{client=\"ip:127.0.0.1\",reason=\"no_credentials\"} 1".into(),
    ] {
        assert!(metrics.contains(&want), "{want} not in:\n{metrics}");
    }
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("hpki_auth_failures_total{"))
        .count();
    assert_eq!(series, 3, "{metrics}");

    server.kill();
    let text = std::fs::read_to_string(&log).unwrap();
    let logged = text.matches("authentication failed").count();
    // 46 failures; 10 lines a minute (two windows at most on a very slow machine).
    assert!((10..=20).contains(&logged), "{logged} lines:\n{text}");
    for token in made_up.iter().chain([&wrong_secret]) {
        let secret = token.rsplit('_').next().unwrap();
        assert!(!text.contains(secret), "a secret in the log");
    }
}

/// A 401's status, `WWW-Authenticate`, content type and body.
fn unauthorized_answer(s: &Service, token: Option<&str>) -> (u16, String, String, String) {
    let r = support::bearer(
        support::agent().get(&format!("{}/v1/credentials", s.base)),
        token,
    )
    .call();
    let resp = match r {
        Err(ureq::Error::Status(_, resp)) => resp,
        Ok(resp) => resp,
        Err(e) => panic!("{e}"),
    };
    let challenge = resp.header("WWW-Authenticate").unwrap_or("").to_owned();
    let status = resp.status();
    let content_type = resp.content_type().to_owned();
    (status, challenge, content_type, resp.into_string().unwrap())
}

/// Issue 12 item 13 (a, d): every 401 carries an RFC 6750 §3 Bearer challenge, with
/// error="invalid_token" when a token was presented; an unknown token and a known token id with
/// a wrong secret get the same answer, to the byte, so a client cannot learn which ids exist.
#[test]
fn every_401_has_a_bearer_challenge_and_unknown_tokens_answer_as_wrong_secrets() {
    let s = start(&[]);
    let (status, challenge, content_type, body) = unauthorized_answer(&s, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(challenge, "Bearer realm=\"hpki\"");
    assert_eq!(content_type, "application/problem+json");

    let id = s.demo.signer.split('_').nth(1).unwrap();
    let secret = s.demo.signer.rsplit('_').next().unwrap();
    let flip = |c: char| if c == '0' { '1' } else { '0' };
    let mut wrong_secret: String = secret.to_owned();
    let last = wrong_secret.pop().unwrap();
    wrong_secret.push(flip(last));
    let mut unknown_id: String = id.to_owned();
    let last = unknown_id.pop().unwrap();
    unknown_id.push(flip(last));
    let wrong = unauthorized_answer(&s, Some(&format!("hpki_{id}_{wrong_secret}")));
    let unknown = unauthorized_answer(&s, Some(&format!("hpki_{unknown_id}_{secret}")));
    assert_eq!(wrong.0, 401, "{}", wrong.3);
    assert_eq!(wrong.1, "Bearer realm=\"hpki\", error=\"invalid_token\"");
    assert_eq!(
        wrong, unknown,
        "an unknown id answers otherwise than a wrong secret"
    );
    assert!(
        !wrong.3.contains(id) && !unknown.3.contains(&unknown_id),
        "{}",
        wrong.3
    );

    // Malformed, expired and revoked tokens, and other schemes, are challenged as well.
    let malformed = unauthorized_answer(&s, Some("hpki_not-a-token"));
    assert_eq!((malformed.0, malformed.1.as_str()), (401, wrong.1.as_str()));
    let basic = support::agent()
        .get(&format!("{}/v1/credentials", s.base))
        .set("Authorization", "Basic dXNlcjpwYXNz")
        .call();
    match basic {
        Err(ureq::Error::Status(401, resp)) => {
            assert_eq!(
                resp.header("WWW-Authenticate"),
                Some("Bearer realm=\"hpki\"")
            )
        }
        other => panic!("Basic credentials: {other:?}"),
    }
    let short = s.post_json(
        "/v1/tokens",
        Some(&s.demo.ra),
        &serde_json::json!({"scope": "signer", "practitioner": "DEMO-0001", "lifetime_seconds": 1}),
    );
    assert_eq!(short.status, 201, "{}", short.text());
    let short = short.json()["token"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let expired = unauthorized_answer(&s, Some(&short));
    assert_eq!((expired.0, expired.1.as_str()), (401, wrong.1.as_str()));
    assert!(expired.3.contains("expired"), "{}", expired.3);
}

/// Issue 12 item 13 (f): times in JSON bodies are RFC 3339 strings, as `at`, `validation_time`
/// and every other time of the API (they were Unix numbers): a credential's and a certificate's
/// `not_after`, a certificate's `revoked_at`, a token's `created_at` and `expires_at`.
#[test]
fn times_in_json_bodies_are_rfc3339() {
    let s = start(&[]);
    let rfc3339 = |v: &serde_json::Value, what: &str| -> u64 {
        let text = v
            .as_str()
            .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
        assert!(text.ends_with('Z') && text.len() == 20, "{what}: {text}");
        ca_core::time::parse_rfc3339(text).unwrap_or_else(|e| panic!("{what}: {text}: {e}"))
    };
    let now = unix_now();
    let (_, signer) = s.credential("D-7001", Some("Medical Doctor"), "p256");
    let credentials = s.get("/v1/credentials?owner=D-7001", Some(&s.demo.ra));
    assert_eq!(credentials.status, 200, "{}", credentials.text());
    let credential = &credentials.json()[0];
    let not_after = rfc3339(&credential["not_after"], "credential not_after");
    assert!(not_after > now + 300 * 86_400, "{credential}");

    let serial = credential["serial"].as_str().unwrap();
    let revoked = s.post_json(
        &format!("/v1/certificates/{serial}/revoke"),
        Some(&s.demo.ra),
        &serde_json::json!({"reason": "superseded"}),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let view = revoked.json();
    assert_eq!(
        rfc3339(&view["not_after"], "certificate not_after"),
        not_after
    );
    let at = rfc3339(&view["revoked_at"], "revoked_at");
    assert!((now..now + 120).contains(&at), "{view}");

    let minted = s.post_json(
        "/v1/tokens",
        Some(&s.demo.ra),
        &serde_json::json!({"scope": "ra", "lifetime_seconds": 3600}),
    );
    assert_eq!(minted.status, 201, "{}", minted.text());
    let expires = rfc3339(&minted.json()["expires_at"], "minted expires_at");
    assert!(
        (now + 3600..now + 3720).contains(&expires),
        "{}",
        minted.text()
    );
    let tokens = s.get("/v1/tokens", Some(&s.demo.ra)).json();
    let signer_id = signer.split('_').nth(1).unwrap();
    let listed = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == signer_id)
        .unwrap();
    let created = rfc3339(&listed["created_at"], "created_at");
    assert!(
        rfc3339(&listed["expires_at"], "expires_at") > created,
        "{listed}"
    );
}

/// The OCSP responder against `openssl ocsp` (RFC 6960, RFC 5019): good, revoked (with its
/// reason) and unknown, each response verified from the CA bundle and, with `-VAfile`, from the
/// delegated responder certificate alone; the GET form's caching headers; malformed requests
/// answered as OCSP (200, malformedRequest, no-store) and envelope errors as problems; the
/// responses counted; issued certificates pointing at the responder. Today's main has no route.
#[test]
fn ocsp_responder_answers_openssl_and_get_answers_are_cacheable() {
    use base64::Engine;
    use ca_core::ocsp::{BasicOcspResponse, OcspResponse, OcspResponseStatus};
    use x509_cert::der::{Decode, Encode};

    let s = start(&[]);
    let bundle = s.save("cas.pem", &s.get("/v1/ca/certificates", None).body);
    let sign = s.save("sign.pem", &s.get("/v1/ca/sign.pem", None).body);
    s.credential("OCSP-GOOD", Some("Medical Doctor"), "p256");
    s.credential("OCSP-BAD", Some("Medical Doctor"), "p256");
    let cert_of = |owner: &str| {
        let view = s
            .get(&format!("/v1/credentials?owner={owner}"), Some(&s.demo.ra))
            .json();
        s.save(
            &format!("{owner}.pem"),
            view[0]["certificate"].as_str().unwrap().as_bytes(),
        )
    };
    let good = cert_of("OCSP-GOOD");
    let bad = cert_of("OCSP-BAD");
    s.revoke_first_of("OCSP-BAD");
    let url = format!("{}/v1/ocsp", s.base);
    let respout = s.path("resp.der");
    let ask = |target: &[&str], trust: &[&str]| {
        let mut args = vec![
            "ocsp",
            "-issuer",
            sign.to_str().unwrap(),
            "-url",
            &url,
            "-nonce",
            "-respout",
            respout.to_str().unwrap(),
        ];
        args.extend_from_slice(target);
        args.extend_from_slice(trust);
        let (ok, text) = openssl(&args);
        assert!(ok, "{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        text
    };
    let with_bundle = ["-CAfile", bundle.to_str().unwrap()];
    let text = ask(&["-cert", good.to_str().unwrap()], &with_bundle);
    assert!(text.contains("OCSP-GOOD.pem: good"), "{text}");
    let text = ask(&["-cert", bad.to_str().unwrap()], &with_bundle);
    assert!(text.contains("OCSP-BAD.pem: revoked"), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    let text = ask(&["-serial", "0x0102030405060708"], &with_bundle);
    assert!(text.contains("0x0102030405060708: unknown"), "{text}");

    // The delegated responder certificate the response carries, trusted alone (-VAfile).
    let response = OcspResponse::from_der(&std::fs::read(&respout).unwrap()).unwrap();
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let basic =
        BasicOcspResponse::from_der(response.response_bytes.unwrap().response.as_bytes()).unwrap();
    let responder_der = basic.certs.unwrap()[0].to_der().unwrap();
    let responder = s.save(
        "responder.pem",
        x509_cert::der::pem::encode_string(
            "CERTIFICATE",
            x509_cert::der::pem::LineEnding::LF,
            &responder_der,
        )
        .unwrap()
        .as_bytes(),
    );
    let va = ["-VAfile", responder.to_str().unwrap()];
    let text = ask(&["-cert", good.to_str().unwrap()], &va);
    assert!(text.contains("OCSP-GOOD.pem: good"), "{text}");
    let text = ask(&["-cert", bad.to_str().unwrap()], &va);
    assert!(text.contains("OCSP-BAD.pem: revoked"), "{text}");
    let (_, text) = openssl(&[
        "x509",
        "-in",
        responder.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(text.contains("OCSP Signing"), "{text}");
    assert!(text.contains("OCSP No Check"), "{text}");
    assert!(!text.contains("Authority Information Access"), "{text}");

    // An issued certificate points at the responder (base_url's default).
    let (_, text) = openssl(&["x509", "-in", good.to_str().unwrap(), "-noout", "-text"]);
    assert!(
        text.contains("OCSP - URI:http://127.0.0.1:8080/v1/ocsp"),
        "{text}"
    );

    // GET (RFC 6960 A.1.1): standard base64, percent-encoded; and base64url.
    let req = s.path("req.der");
    let (ok, text) = openssl(&[
        "ocsp",
        "-issuer",
        sign.to_str().unwrap(),
        "-cert",
        good.to_str().unwrap(),
        "-no_nonce",
        "-reqout",
        req.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let der = std::fs::read(&req).unwrap();
    let standard = base64::engine::general_purpose::STANDARD
        .encode(&der)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
    for encoded in [standard, url_safe] {
        let r = support::agent()
            .get(&format!("{url}/{encoded}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.content_type(), "application/ocsp-response");
        let cache = r.header("Cache-Control").unwrap().to_owned();
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        let response = OcspResponse::from_der(&body).unwrap();
        assert_eq!(response.response_status, OcspResponseStatus::Successful);
        let basic =
            BasicOcspResponse::from_der(response.response_bytes.unwrap().response.as_bytes())
                .unwrap();
        let single = &basic.tbs_response_data.responses[0];
        let this = single.this_update.0.to_unix_duration().as_secs();
        let next = single.next_update.unwrap().0.to_unix_duration().as_secs();
        let max_age: u64 = cache
            .strip_prefix("max-age=")
            .and_then(|rest| rest.strip_suffix(", public, no-transform, must-revalidate"))
            .unwrap_or_else(|| panic!("{cache}"))
            .parse()
            .unwrap();
        assert!(
            max_age > 0 && max_age <= next - this,
            "{cache} for {this}..{next}"
        );
        assert!(
            max_age + unix_now() <= next + 1,
            "{cache} past nextUpdate {next}"
        );
    }
    // Malformed: an OCSP answer, not cacheable.
    for bad in ["%%%", "bm90IGFuIE9DU1AgcmVxdWVzdA"] {
        let r = support::agent()
            .get(&format!("{url}/{bad}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{bad}");
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        assert_eq!(
            OcspResponse::from_der(&body).unwrap().response_status,
            OcspResponseStatus::MalformedRequest
        );
    }
    let r = s.post_bytes("/v1/ocsp", None, "application/ocsp-request", b"\x30\x00");
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/ocsp-response")
    );
    assert_eq!(
        OcspResponse::from_der(&r.body).unwrap().response_status,
        OcspResponseStatus::MalformedRequest
    );
    // The envelope: another media type, a body over the limit.
    s.post_bytes("/v1/ocsp", None, "application/octet-stream", &der)
        .problem(415);
    s.post_bytes(
        "/v1/ocsp",
        None,
        "application/ocsp-request",
        &vec![0u8; ca_core::ocsp::MAX_REQUEST_LEN + 1],
    )
    .problem(413);

    let metrics = String::from_utf8(s.get("/metrics", None).body).unwrap();
    for status in ["good", "revoked", "unknown", "error"] {
        assert!(
            metrics.contains(&format!("hpki_ocsp_responses_total{{status=\"{status}\"}}")),
            "{status}: {metrics}"
        );
    }
}

/// `[ocsp] enabled = false`: no responder routes (404 problems) and no OCSP URL in the
/// certificates of a first start, the sub-CAs' and the demo credential's (caIssuers stays).
#[test]
fn ocsp_turned_off_answers_404_and_puts_no_ocsp_url_in_certificates() {
    let s = start(&[("HPKI_OCSP_ENABLED", "false")]);
    s.post_bytes("/v1/ocsp", None, "application/ocsp-request", b"\x30\x00")
        .problem(404);
    s.get("/v1/ocsp/MAA", None).problem(404);
    let view = s
        .get(
            &format!("/v1/credentials?owner={}", "DEMO-0001"),
            Some(&s.demo.ra),
        )
        .json();
    let demo = s.save(
        "demo.pem",
        view[0]["certificate"].as_str().unwrap().as_bytes(),
    );
    let sign = s.save("sign.pem", &s.get("/v1/ca/sign.pem", None).body);
    for cert in [demo, sign] {
        let (ok, text) = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(text.contains("CA Issuers - URI:"), "{text}");
        assert!(!text.contains("OCSP - URI:"), "{text}");
    }
}

/// The time-stamping authority over HTTP (issue 14 item 1): `openssl ts` requests, posts and
/// verifies a token against the root and the certificate route's chain; a token is audited, a
/// rejection is a TimeStampResp (200) that `openssl ts -reply` reads; another media type is 415.
/// Open to anonymous clients by default; the first start prints where the certificate is.
#[test]
fn timestamps_verify_with_openssl_and_rejections_are_time_stamp_replies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, lines) = support::spawn(&data, &[]);
    let tsa_line = lines
        .iter()
        .find(|l| l.starts_with("time-stamping authority: "))
        .unwrap_or_else(|| panic!("no TSA line in {lines:?}"));
    assert!(
        tsa_line.contains(&format!("{}/v1/timestamps/certificate", server.base)),
        "{tsa_line}"
    );
    let file = |name: &str| dir.path().join(name);
    let path = |name: &str| file(name).to_str().unwrap().to_owned();

    // The certificate route: the TSA certificate (EKU timeStamping, critical), then its chain.
    let r = server.get("/v1/timestamps/certificate", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/pem-certificate-chain");
    let bundle = r.text();
    assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    let root = std::fs::read_to_string(data.join("ca/root.pem")).unwrap();
    assert!(
        bundle.ends_with(&root),
        "the bundle does not end at the root"
    );
    std::fs::write(file("tsa-chain.pem"), &bundle).unwrap();
    let (ok, eku) = openssl(&[
        "x509",
        "-in",
        &path("tsa-chain.pem"),
        "-noout",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(ok, "{eku}");
    assert!(
        eku.contains("critical") && eku.contains("Time Stamping"),
        "{eku}"
    );

    // A granted token, verified by OpenSSL against the root with the served chain.
    let document = b"discharge letter, ward 3\n";
    std::fs::write(file("doc.txt"), document).unwrap();
    let (ok, out) = openssl(&[
        "ts",
        "-query",
        "-data",
        &path("doc.txt"),
        "-sha256",
        "-cert",
        "-out",
        &path("req.tsq"),
    ]);
    assert!(ok, "{out}");
    let query = std::fs::read(file("req.tsq")).unwrap();
    let r = server.post_bytes(
        "/v1/timestamps",
        None,
        "application/timestamp-query",
        &query,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/timestamp-reply");
    std::fs::write(file("resp.tsr"), &r.body).unwrap();
    let (ok, out) = openssl(&[
        "ts",
        "-verify",
        "-queryfile",
        &path("req.tsq"),
        "-in",
        &path("resp.tsr"),
        "-CAfile",
        data.join("ca/root.pem").to_str().unwrap(),
        "-untrusted",
        &path("tsa-chain.pem"),
    ]);
    assert!(ok && out.contains("Verification: OK"), "{out}");
    let (ok, text) = openssl(&["ts", "-reply", "-in", &path("resp.tsr"), "-text"]);
    assert!(ok && text.contains("Status: Granted."), "{text}");
    let policy = text
        .lines()
        .find_map(|l| l.strip_prefix("Policy OID: "))
        .unwrap_or_else(|| panic!("{text}"))
        .trim()
        .to_owned();
    assert!(
        tsa_line.ends_with(&format!("policy {policy})")),
        "{tsa_line}"
    );

    // Another media type: 415 with a problem body, nothing signed.
    let r = server.post_bytes("/v1/timestamps", None, "application/octet-stream", &query);
    assert!(
        r.problem(415).contains("application/timestamp-query"),
        "{}",
        r.text()
    );
    // Garbage: a TimeStampResp with status rejection and badDataFormat, still 200.
    let r = server.post_bytes(
        "/v1/timestamps",
        None,
        "application/timestamp-query",
        b"\x30\x05not a request",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/timestamp-reply");
    std::fs::write(file("garbage.tsr"), &r.body).unwrap();
    let (ok, text) = openssl(&["ts", "-reply", "-in", &path("garbage.tsr"), "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Status: Rejected."), "{text}");
    assert!(
        text.contains("Failure info: the data submitted has the wrong format"),
        "{text}"
    );
    // Beyond the request limit: 413 before anything is decoded.
    let big = vec![0x30; ca_core::tsp::MAX_REQUEST_LEN + 1];
    let r = server.post_bytes("/v1/timestamps", None, "application/timestamp-query", &big);
    r.problem(413);

    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains("hpki_timestamps_total{status=\"granted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hpki_timestamps_total{status=\"rejected\"} 1"),
        "{metrics}"
    );

    // The granted token, and only it, is in the audit log: serial, imprint, policy, the client.
    server.kill();
    let records = support::audit_list(&data);
    let stamps: Vec<_> = records
        .iter()
        .filter(|r| r.event_action() == "timestamp")
        .collect();
    assert_eq!(stamps.len(), 1, "{records:?}");
    let record = stamps[0];
    assert_eq!(
        support::detail(record, "imprint"),
        Some(hex(&sha(&ring::digest::SHA256, document)).as_str())
    );
    assert_eq!(support::detail(record, "hash_algorithm"), Some("sha256"));
    assert_eq!(support::detail(record, "policy"), Some(policy.as_str()));
    assert_eq!(record["event"]["actor"], "ip:127.0.0.1");
    let serial = text_serial(&r_text(&file("resp.tsr")));
    assert_eq!(
        record["event"]["object"],
        format!("timestamp:{serial}"),
        "the audit record names another token"
    );
}

trait Action {
    fn event_action(&self) -> &str;
}

impl Action for serde_json::Value {
    fn event_action(&self) -> &str {
        self["event"]["action"].as_str().unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `openssl ts -reply -text` of a response file.
fn r_text(response: &Path) -> String {
    let (ok, text) = openssl(&["ts", "-reply", "-in", response.to_str().unwrap(), "-text"]);
    assert!(ok, "{text}");
    text
}

/// The token serial `openssl ts -reply -text` prints (`Serial number: 0x…`), as lowercase hex
/// content octets.
fn text_serial(text: &str) -> String {
    let serial = text
        .lines()
        .find_map(|l| l.strip_prefix("Serial number: 0x"))
        .unwrap_or_else(|| panic!("{text}"))
        .trim()
        .to_ascii_lowercase();
    // 16 octets with the top bit clear: no leading 00 octet, 32 digits.
    format!("{serial:0>32}")
}

/// `[tsa] require_auth` (HPKI_TSA_REQUIRE_AUTH) asks for a caller, as the document then says;
/// `[tsa] policy` (HPKI_TSA_POLICY) is the tokens' policy; a revoked TSA certificate stops it.
#[test]
fn timestamps_can_require_a_caller_and_take_their_policy_from_the_config() {
    let s = start(&[
        ("HPKI_TSA_REQUIRE_AUTH", "true"),
        ("HPKI_TSA_POLICY", "1.2.392.200119.14.1"),
    ]);
    let doc = s.get("/openapi.json", None).json();
    let op = &doc["paths"]["/v1/timestamps"]["post"];
    assert_eq!(op["security"], serde_json::json!([{"bearer": []}]));
    assert!(op["responses"].get("401").is_some());
    s.save("doc.txt", b"consent form\n");
    let (ok, out) = openssl(&[
        "ts",
        "-query",
        "-data",
        s.path("doc.txt").to_str().unwrap(),
        "-sha512",
        "-out",
        s.path("req.tsq").to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let query = std::fs::read(s.path("req.tsq")).unwrap();
    let r = s.post_bytes(
        "/v1/timestamps",
        None,
        "application/timestamp-query",
        &query,
    );
    r.problem(401);
    let r = s.post_bytes(
        "/v1/timestamps",
        Some(&s.demo.signer),
        "application/timestamp-query",
        &query,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let response = s.save("resp.tsr", &r.body);
    let text = r_text(&response);
    assert!(text.contains("Status: Granted."), "{text}");
    assert!(text.contains("Policy OID: 1.2.392.200119.14.1"), "{text}");

    // The TSA certificate is in the inventory: revoked, it is on the sign CA's CRL and the TSA
    // signs nothing more (409, as issuing under a revoked CA).
    let listed = s
        .get("/v1/certificates?profile=tsa", Some(&s.demo.ra))
        .json();
    let listed = listed["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let serial = listed[0]["serial"].as_str().unwrap();
    let r = s.post_json(
        &format!("/v1/certificates/{serial}/revoke"),
        Some(&s.demo.ra),
        &serde_json::json!({"reason": "keyCompromise"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.post_bytes(
        "/v1/timestamps",
        Some(&s.demo.ra),
        "application/timestamp-query",
        &query,
    );
    let detail = r.problem(409);
    assert!(detail.contains("revoked (keyCompromise)"), "{detail}");
}
