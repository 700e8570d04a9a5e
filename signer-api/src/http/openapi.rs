//! The OpenAPI 3.1 document served at `/openapi.json`, and the routing facts taken from it.
//!
//! utoipa derives the document from the handlers' annotations (every route is registered
//! through `utoipa_actix_web`, so the document lists exactly the routes served). `complete`
//! then adds what annotations cannot say: the RFC 9457 problem body of every error response,
//! the statuses the middleware answers on every route (`limits.rs`: 408, 413, 429), the
//! `WWW-Authenticate` and `Retry-After` headers those responses carry, and the values this
//! deployment accepts (its CA ids, profiles, purposes, token lifetimes), so that a request valid
//! under the document is one the service accepts and the other way round.

use super::AppState;
use crate::config::Config;
use crate::datadir::ServiceStore;
use actix_web::http::Method;
use ca_core::authority::Authority;
use ca_core::purpose::SigningPolicy;
use ca_core::store::RevocationReason;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hpki signing service",
        description = "ISO 17090 healthcare PKI: certificates, credentials and CAdES signatures. \
            Every error is an RFC 9457 problem (`application/problem+json`)."
    ),
    modifiers(&BearerAuth)
)]
pub(super) struct ApiDoc;

/// Declares the `bearer` scheme the routes' `security` refers to (hpki API tokens).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("hpki_<id>_<secret>")
                    .build(),
            ),
        );
    }
}

/// Characters refused in client-chosen text (`ca_core::credential::check_client_text`): C0 and
/// C1 controls, the Unicode bidirectional formatting characters, line and paragraph separators.
const CLIENT_TEXT: &str =
    r"^[^\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$";

/// Canonical padded base64 (RFC 4648 §4) of any length, as the service decodes it: padding
/// required, unused bits zero.
const BASE64: &str =
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?$";

/// RFC 3339 §5.6 `date-time` as `super::time_field` reads it: from 1970, no leap second, at most
/// 64 characters. (The service also refuses a 1970-01-01 time whose offset puts it before the
/// epoch, which the pattern does not say.)
const DATE_TIME: &str = concat!(
    r"^(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])",
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?",
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
);

/// A digest of each algorithm the service signs with, in canonical base64, by algorithm name.
const DIGESTS: [(&str, &str); 3] = [
    ("sha256", r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"),
    ("sha384", r"^[A-Za-z0-9+/]{64}$"),
    ("sha512", r"^[A-Za-z0-9+/]{85}[AQgw]==$"),
];

/// The served document and, for `405 Method Not Allowed`, the methods of each path.
pub struct Document {
    json: actix_web::web::Bytes,
    routes: Vec<Route>,
}

struct Route {
    /// `None` for a `{parameter}` segment, which matches any one non-empty segment.
    segments: Vec<Option<String>>,
    methods: Vec<Method>,
}

impl Document {
    /// The document for this deployment's `state`.
    pub fn new(api: &utoipa::openapi::OpenApi, state: &AppState) -> Self {
        // utoipa's model serialises to JSON without fail (string keys, no non-finite floats).
        let mut doc = serde_json::to_value(api).expect("the OpenAPI model serialises");
        complete(&mut doc, &Deployment::of(state));
        let routes = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(path, item)| Route {
                        segments: path
                            .split('/')
                            .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                            .collect(),
                        methods: item
                            .as_object()
                            .into_iter()
                            .flat_map(|ops| ops.keys())
                            .filter_map(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            json: serde_json::to_vec(&doc).unwrap_or_default().into(),
            routes,
        }
    }

    pub fn json(&self) -> actix_web::web::Bytes {
        self.json.clone()
    }

    /// The methods served at `path`, for the `Allow` header of a 405 (RFC 9110 §15.5.6); `None`
    /// when no route has this path (404).
    pub fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut methods: Vec<Method> = self
            .routes
            .iter()
            .filter(|r| {
                r.segments.len() == segments.len()
                    && r.segments
                        .iter()
                        .zip(&segments)
                        .all(|(want, got)| match want {
                            Some(literal) => literal == got,
                            None => !got.is_empty(),
                        })
            })
            .flat_map(|r| r.methods.iter().cloned())
            .collect();
        if methods.is_empty() {
            return None;
        }
        // HEAD is served wherever GET is (mod.rs; RFC 9110 §9.3.2).
        if methods.contains(&Method::GET) {
            methods.push(Method::HEAD);
        }
        methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        methods.dedup();
        Some(methods)
    }
}

/// What this deployment accepts where the document names values.
struct Deployment {
    cas: Vec<String>,
    /// Profiles `POST /v1/certificates` issues under (not the CA profiles).
    issuable: Vec<String>,
    /// Document-signing profiles, for `POST /v1/credentials`.
    signing: Vec<String>,
    max_validity_days: u32,
    purposes: Vec<String>,
    max_token_days: u32,
    /// `[tsa] require_auth`: `POST /v1/timestamps` takes a caller as the other routes do.
    tsa_requires_auth: bool,
}

impl Deployment {
    fn of(state: &AppState) -> Self {
        Self::from_parts(&state.authority, &state.purposes, &state.config)
    }

    fn from_parts(
        authority: &Authority<ServiceStore>,
        purposes: &SigningPolicy,
        config: &Config,
    ) -> Self {
        let profiles = authority.profiles();
        let issuable: Vec<_> = profiles
            .profiles()
            .filter(|p| p.ca_id().is_none())
            .collect();
        Self {
            cas: authority.ca_ids().map(str::to_owned).collect(),
            signing: issuable
                .iter()
                .filter(|p| ca_core::credential::signs_documents(p))
                .map(|p| p.id().to_owned())
                .collect(),
            max_validity_days: issuable
                .iter()
                .map(|p| p.max_validity_days())
                .max()
                .unwrap_or(1),
            issuable: issuable.iter().map(|p| p.id().to_owned()).collect(),
            purposes: purposes.purposes().iter().map(|p| p.name.clone()).collect(),
            max_token_days: config.tokens.max_days,
            tsa_requires_auth: config.tsa.require_auth,
        }
    }
}

/// Adds to utoipa's document what the annotations cannot say (see the module comment).
fn complete(doc: &mut Value, d: &Deployment) {
    doc["components"]["schemas"]["Problem"] = problem_schema();
    let schemas = &mut doc["components"]["schemas"];
    let profile_enum = |ids: &[String]| {
        let mut values: Vec<Value> = ids.iter().map(|s| json!(s)).collect();
        values.push(Value::Null);
        Value::Array(values)
    };
    schemas["IssueRequest"]["properties"]["profile"]["enum"] = json!(d.issuable);
    schemas["CreateCredential"]["properties"]["profile"]["enum"] = profile_enum(&d.signing);
    for name in ["IssueRequest", "CreateCredential"] {
        schemas[name]["properties"]["validity_days"]["maximum"] = json!(d.max_validity_days);
    }
    // RFC 5280 §5.3.1 names; removeFromCRL only lifts a hold (`release`), it is no reason.
    let mut reasons: Vec<Value> = RevocationReason::ALL
        .into_iter()
        .filter(|r| *r != RevocationReason::RemoveFromCrl)
        .map(|r| json!(r.name()))
        .collect();
    reasons.push(Value::Null);
    schemas["RevokeRequest"]["properties"]["reason"]["enum"] = Value::Array(reasons);
    schemas["DigestRequest"]["properties"]["purpose"]["enum"] = json!(d.purposes);
    schemas["DigestRequest"]["oneOf"] = Value::Array(
        DIGESTS
            .iter()
            .map(|(alg, pattern)| {
                json!({"properties": {
                    "digest_algorithm": {"const": alg},
                    "digest": {"pattern": pattern},
                }})
            })
            .collect(),
    );
    let token = &mut schemas["CreateToken"];
    let max_days = d.max_token_days.max(1);
    token["properties"]["lifetime_days"]["maximum"] = json!(max_days);
    token["properties"]["lifetime_seconds"]["maximum"] = json!(u64::from(max_days) * 86_400);
    // "ra" takes no practitioner; "signer" needs one.
    token["oneOf"] = json!([
        {"properties": {"scope": {"const": "ra"}, "practitioner": {"type": "null"}}},
        {"required": ["practitioner"],
         "properties": {"scope": {"const": "signer"}, "practitioner": {"type": "string"}}},
    ]);
    // Detached content: the content, or its digest with the digest's algorithm, or neither.
    let none = json!({"type": "null"});
    let mut branches = vec![
        json!({"properties": {"content": none, "content_digest": none, "digest_algorithm": none}}),
        json!({"required": ["content"], "properties": {
            "content": {"type": "string"}, "content_digest": none, "digest_algorithm": none}}),
    ];
    branches.extend(DIGESTS.iter().map(|(alg, pattern)| {
        json!({"required": ["content_digest", "digest_algorithm"], "properties": {
            "content": none,
            "digest_algorithm": {"const": alg},
            "content_digest": {"type": "string", "pattern": pattern}}})
    }));
    schemas["VerificationRequest"]["oneOf"] = Value::Array(branches);

    // Open by default (RFC 3161 clients send no token); secured, it answers 401 too.
    if d.tsa_requires_auth
        && let Some(operation) = doc["paths"]
            .get_mut("/v1/timestamps")
            .and_then(|item| item.get_mut("post"))
    {
        operation["security"] = json!([{"bearer": []}]);
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            complete_operation(operation, d);
        }
    }
}

fn complete_operation(operation: &mut Value, d: &Deployment) {
    // `get_mut`: indexing a JSON object inserts a null member where there is none.
    let parameters = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut);
    for parameter in parameters.into_iter().flatten() {
        // A query or path parameter is text: it is given or absent, never JSON null.
        if let Some(types) = parameter["schema"]["type"].as_array() {
            let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            parameter["schema"]["type"] = match types.as_slice() {
                [one] => one.clone(),
                _ => Value::Array(types),
            };
        }
        match (parameter["in"].as_str(), parameter["name"].as_str()) {
            (Some("path"), Some("ca")) => parameter["schema"]["enum"] = json!(d.cas),
            (Some("path"), Some("file")) => {
                let files: Vec<String> = d
                    .cas
                    .iter()
                    .flat_map(|ca| ["der", "cer", "crt", "pem"].map(|ext| format!("{ca}.{ext}")))
                    .collect();
                parameter["schema"]["enum"] = json!(files);
            }
            (Some("query"), Some("purpose")) => parameter["schema"]["enum"] = json!(d.purposes),
            _ => {}
        }
    }
    let secured = operation.get("security").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    // Every route, before its handler (`limits.rs`); 503 also while a PostgreSQL store's
    // database is unreachable (`Problem::store_unavailable`), or the keys' PKCS#11 token
    // (`Problem::key`).
    for status in ["408", "413", "429", "503"] {
        responses.entry(status).or_insert_with(|| json!({}));
    }
    if secured {
        responses.entry("401").or_insert_with(|| json!({}));
    }
    for (status, response) in responses.iter_mut() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        if code < 400 {
            continue;
        }
        let description = response["description"].as_str().unwrap_or_default();
        if description.is_empty() {
            response["description"] = json!(default_description(code));
        }
        response["content"] = json!({"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}});
        let mut headers = Map::new();
        if code == 401 {
            // RFC 9110 §15.5.2, RFC 6750 §3.
            headers.insert(
                "WWW-Authenticate".into(),
                json!({"required": true, "description": "Bearer realm=\"hpki\" (RFC 6750 §3)",
                    "schema": {"type": "string", "pattern": "^Bearer realm=\"hpki\""}}),
            );
        }
        if code == 429 || code == 503 {
            // RFC 9110 §10.2.3: delay-seconds.
            headers.insert(
                "Retry-After".into(),
                json!({"required": true, "description": "Seconds to wait (RFC 9110 §10.2.3)",
                    "schema": {"type": "integer", "minimum": 1}}),
            );
        }
        if !headers.is_empty() {
            response["headers"] = Value::Object(headers);
        }
    }
}

fn default_description(code: u16) -> &'static str {
    match code {
        400 => "Malformed request: a parameter or body that does not match this document",
        401 => "No credentials, or a token or client certificate that does not authenticate",
        403 => "The caller may not do this",
        404 => "No such resource",
        408 => "The request took longer than `limits.request_seconds`",
        409 => "Conflicts with the resource's state",
        413 => "The body, or its declared Content-Length, exceeds the limit",
        415 => "Unsupported Content-Type",
        429 => "Over the client's rate limit",
        500 => "Internal error (logged; no detail is given)",
        502 => "An upstream service (a foreign time-stamping authority) failed or was not trusted",
        503 => {
            "The store's database or the keys' PKCS#11 token (HSM) is unreachable, or the \
             service holds its budget of buffered request bodies: retry after Retry-After seconds"
        }
        _ => "Error",
    }
}

/// RFC 9457 §3.1 problem details, as `problem.rs` writes them.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details (application/problem+json)",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference",
                "description": "A URI naming the problem type; about:blank: the status says it"},
            "title": {"type": "string", "description": "The status's reason phrase"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "What was wrong with this request"},
            "instance": {"type": "string", "format": "uri-reference"},
        },
    })
}

/// Raw octets in a body: a DER certificate, CRL or CMS signature, or a document to sign.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

fn text(nullable: bool) -> ObjectBuilder {
    let kind: SchemaType = if nullable {
        [Type::String, Type::Null].into_iter().collect()
    } else {
        Type::String.into()
    };
    ObjectBuilder::new().schema_type(kind)
}

/// An RFC 3339 time input (`ca_core::time`), optional.
pub fn date_time() -> Object {
    text(true)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(DATE_TIME))
        .max_length(Some(64))
        .description(Some(
            "RFC 3339 date-time, e.g. 2026-12-07T09:00:00Z or 2026-12-07T18:00:00+09:00; from \
             1970, no leap second",
        ))
        .build()
}

/// Base64 octets (canonical, padded).
pub fn base64() -> Object {
    text(false).pattern(Some(BASE64)).build()
}

/// [`base64`], optional.
pub fn base64_or_null() -> Object {
    text(true).pattern(Some(BASE64)).build()
}

/// A list of [`base64`] items (DER certificates, CRLs, OCSP responses), optional.
pub fn base64_list() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Array,
            Type::Null,
        ]))
        .items(base64())
        .build()
}

/// A role the signer claims (CAdES signer-attributes), optional: it is signed and audited, so
/// it is client text (`ca_core::credential::check_client_text`).
pub fn claimed_role() -> Object {
    text(true)
        .pattern(Some(CLIENT_TEXT))
        .max_length(Some(ca_core::credential::MAX_CLAIMED_ROLE_LEN))
        .description(Some(
            "Role claimed by the signer, signed as a CAdES signer attribute: printable text",
        ))
        .build()
}

/// A practitioner identity a signer token is bound to: client text, audited.
pub fn practitioner() -> Object {
    text(true)
        .pattern(Some(CLIENT_TEXT))
        .min_length(Some(1))
        .max_length(Some(super::credentials::MAX_PRACTITIONER_LEN))
        .description(Some(
            "For signer tokens: the practitioner identity (subject serialNumber) it is bound to",
        ))
        .build()
}

/// A credential id, `cred_` and 16 hex digits.
pub fn credential_id() -> Object {
    text(false).pattern(Some(CREDENTIAL_ID)).build()
}

/// [`credential_id`], optional.
pub fn credential_id_or_null() -> Object {
    text(true).pattern(Some(CREDENTIAL_ID)).build()
}

const CREDENTIAL_ID: &str = "^cred_[0-9a-f]{16}$";
