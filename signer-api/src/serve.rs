//! `signer-api serve`: the HTTP service. With no configuration it runs the embedded default: a
//! demo CA initialised in `./hpki-data` on first start, a demo practitioner with a "Medical Doctor"
//! signing credential, and tokens printed once.

use crate::admin::{self, InitArgs};
use crate::config::{Config, KeyBackendKind, Tls};
use crate::datadir::DataDir;
use crate::datadir::ServiceStore;
use crate::http::{self, AppState};
use actix_web::http::KeepAlive;
use actix_web::{HttpServer, web};
use anyhow::{Context, Result};
use ca_core::authority::{Authority, TsaAccess};
use ca_core::credential::NewCredential;
use ca_core::key::KeyAlgorithm;
use ca_core::store::TokenScope;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file (see README.md); HPKI_* variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the configuration), e.g. 127.0.0.1:0 for a free port.
    #[arg(long)]
    listen: Option<String>,
}

/// The demo practitioner created on first start.
const DEMO_PRACTITIONER: &str = "DEMO-0001";
const DEMO_ROLE: &str = "1.2.392.100495.1.6.1.1:Medical Doctor";

pub fn serve(data_dir: Option<&Path>, policies: Option<&Path>, args: ServeArgs) -> Result<()> {
    // Logs go to standard error; RUST_LOG filters them (default: info). Never tokens or keys.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let mut config = Config::load(args.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(d) = data_dir {
        config.data_dir = d.to_owned();
    }
    if let Some(p) = policies {
        config.policies = Some(p.to_owned());
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    let dir = DataDir::new(&config.data_dir, config.policies.as_deref())
        .with_durability(config.durability)
        .with_store(config.store.clone())
        .with_keys(config.keys.clone());
    // One opening of the store per process: sled may still hold the lock of a dropped handle.
    let (authority, first_start) = if dir.is_initialised()? {
        (join(&dir, &config)?, Vec::new())
    } else {
        match create_demo_authority(&dir, &config) {
            Ok(authority) => initialise_demo(authority, &config)?,
            // Several instances started at once on one empty database: another one's `init`
            // committed first (the database allows one), so this one joins it.
            Err(e) if dir.store_is_remote() && matches!(dir.is_initialised(), Ok(true)) => {
                tracing::info!(
                    error = %format!("{e:#}"),
                    "another instance initialised the store first: joining it"
                );
                (join(&dir, &config)?, Vec::new())
            }
            Err(e) => return Err(e),
        }
    };
    let authority = match &config.tsa.policy {
        Some(policy) => authority.with_tsa_policy(policy)?,
        None => authority,
    };
    let authority = authority.with_tsa_access(if config.tsa.require_auth {
        TsaAccess::Callers
    } else {
        TsaAccess::Open
    });
    let authority = match signer_api::foreign_tsa::from_settings(&config.tsa)? {
        Some(foreign) => {
            tracing::info!(
                url = foreign.name(),
                "signatures are time-stamped by a foreign TSA"
            );
            authority.with_foreign_tsa(foreign)
        }
        None => authority,
    };
    let tsa_policy = authority
        .tsa_certificate()
        .ok()
        .map(|tsa| tsa.policy.to_string());
    let state = web::Data::new(AppState {
        authority,
        purposes: std::sync::Arc::new(dir.signing_policy()?),
        config: config.clone(),
        metrics: Default::default(),
        auth_failure_log: Default::default(),
        rate: http::limits::ClientRate::new(&config.limits),
        bodies: http::limits::BodyBudget::new(&config.limits),
        // A token's signature is a call into the module that may block (a network HSM, a
        // token gone): off the async workers, as PostgreSQL's calls are.
        store_on_worker: !dir.store_is_remote() && config.keys.backend != KeyBackendKind::Pkcs11,
    });
    let _key_watch = signer_api::keyhealth::watch(state.clone().into_inner());
    let tls = match &config.tls {
        Some(tls) => Some(tls_config(tls, &state)?),
        None => None,
    };
    // Admin commands beside this server reach the store through it; the file goes on clean
    // shutdown (when `admin_socket` drops after the server stops). Without it (a data directory
    // path too long for a socket address, say) the service still runs: the commands then say the
    // directory is in use, as before.
    // With PostgreSQL there is none: the admin commands open the database beside the service,
    // and several instances may share one data directory (one key file, one `ca/`), where
    // each would replace the others' socket.
    let admin_socket = if dir.store_is_remote() {
        None
    } else {
        crate::adminsock::listen(dir.root(), state.clone())
            .inspect_err(|e| {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    "no admin socket: admin commands need the service stopped"
                );
            })
            .ok()
    };
    let served = actix_web::rt::System::new().block_on(async move {
        let app_state = state.clone();
        let limits = &config.limits;
        let server = HttpServer::new(move || http::app(app_state.clone()))
            .on_connect(remember_client_certificate)
            // A request head must arrive within this time (slowloris), an idle connection
            // closes after keep-alive, and each worker serves a bounded number of connections.
            .client_request_timeout(Duration::from_secs(limits.header_seconds))
            .client_disconnect_timeout(Duration::from_secs(2))
            .keep_alive(match limits.keep_alive_seconds {
                0 => KeepAlive::Disabled,
                s => KeepAlive::Timeout(Duration::from_secs(s)),
            })
            .max_connections(limits.max_connections)
            // Signing and issuance are CPU work plus a group-committed sync: a few threads per
            // core keep the cores busy, where actix's default (512 shared by the workers) lets a
            // burst of clients grow one thread, and one malloc arena, each.
            .worker_max_blocking_threads(crate::datadir::BLOCKING_THREADS)
            .backlog(1024);
        let (server, scheme) = match tls {
            Some(tls) => (server.bind_rustls_0_23(&config.listen, tls), "https"),
            None => (server.bind(&config.listen), "http"),
        };
        let server = server.with_context(|| format!("binding {}", config.listen))?;
        let mut out = std::io::stdout().lock();
        for addr in server.addrs() {
            writeln!(out, "listening on {scheme}://{addr}")?;
        }
        writeln!(out, "root certificate: {}", dir.ca_pem("root").display())?;
        if let (Some(policy), Some(addr)) = (&tsa_policy, server.addrs().first()) {
            writeln!(
                out,
                "{}",
                admin::tsa_line(&format!("{scheme}://{addr}"), policy)
            )?;
        }
        for line in &first_start {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        drop(out);
        server.run().await.context("serving")
    });
    drop(admin_socket);
    served
}

/// Opens the initialised store. An instance joining a PostgreSQL store from a data directory of
/// its own (holding a copy of the key file, or with the same `HPKI_PASSPHRASE`) publishes the CA
/// certificates there too, so `root certificate:` names a file that exists.
fn join(dir: &DataDir, config: &Config) -> Result<Authority<ServiceStore>> {
    let authority = with_ocsp(dir.open_authority()?, config);
    if authority.ca_ids().any(|id| !dir.ca_pem(id).exists()) {
        // A convenience (the certificates are also at /v1/ca/…): never a reason not to serve.
        if let Err(e) = admin::publish_ca_certificates(dir, &authority) {
            tracing::warn!(error = %format!("{e:#}"), "CA certificates not published");
        }
    }
    Ok(authority)
}

/// The OCSP settings of `config`: when enabled, the URL recorded at init, else (a data
/// directory made before the responder) `{base_url}/v1/ocsp`; when disabled, none.
pub fn with_ocsp(authority: Authority<ServiceStore>, config: &Config) -> Authority<ServiceStore> {
    let url = config.ocsp.enabled.then(|| {
        authority
            .config()
            .urls
            .ocsp
            .clone()
            .unwrap_or_else(|| format!("{}/v1/ocsp", config.base_url.trim_end_matches('/')))
    });
    authority.with_ocsp(ca_core::authority::OcspSettings {
        url,
        validity_seconds: config.ocsp.validity_seconds,
    })
}

/// rustls with the ring provider. With `client_auth`, a client certificate is optional (API tokens
/// still work) but, when presented, must chain to our authentication CA: certificates of the
/// signature CA or of any other CA fail the handshake.
fn tls_config(tls: &Tls, state: &AppState) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_file_iter(&tls.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading {}", tls.certificate.display()))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("reading {}", tls.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if tls.client_auth {
        let mut roots = rustls::RootCertStore::empty();
        let auth_ca = state.authority.ca_certificate("auth")?;
        roots.add(CertificateDer::from(auth_ca.to_vec()))?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    Ok(builder.with_single_cert(chain, key)?)
}

/// Keeps the verified client certificate chain of a TLS connection for the `Caller` extractor.
fn remember_client_certificate(conn: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = conn.downcast_ref::<Tls>()
        && let Some(chain) = stream.get_ref().1.peer_certificates()
        && !chain.is_empty()
    {
        data.insert(http::auth::PeerCertificate(
            chain.iter().map(|c| c.to_vec()).collect(),
        ));
    }
}

/// Creates the demo CA hierarchy (`init` with the defaults).
fn create_demo_authority(dir: &DataDir, config: &Config) -> Result<Authority<ServiceStore>> {
    admin::create_authority(
        dir,
        InitArgs::defaults(&config.base_url)
            .with_ocsp(config.ocsp.enabled)
            .with_tsa_policy(config.tsa.policy.clone()),
    )
}

/// Adds to the new demo CA the demo practitioner's signing credential and two tokens; returns
/// the lines to print once (the tokens are not stored in clear anywhere).
fn initialise_demo(
    authority: Authority<ServiceStore>,
    config: &Config,
) -> Result<(Authority<ServiceStore>, Vec<String>)> {
    // Before the demo credential, whose certificate gets the OCSP URL only when enabled.
    let authority = with_ocsp(authority, config);
    let now = admin::now()?;
    let registration = ca_core::issue::Registration {
        profile: ca_core::credential::DEFAULT_PROFILE.into(),
        subject: ca_core::name::parse_subject(&format!(
            "C=JP,O=hpki Demo Hospital,CN=Demo Doctor,serialNumber={DEMO_PRACTITIONER}"
        ))?,
        sans: Vec::new(),
        hc_roles: vec![DEMO_ROLE.parse()?],
        validity_days: Some(365),
    };
    let credential = authority.create_credential(
        &NewCredential {
            owner: Some(DEMO_PRACTITIONER.into()),
            registration,
            key_algorithm: KeyAlgorithm::P256,
        },
        now,
        "serve:init",
    )?;
    let day = 86_400;
    let ra = authority.create_token(
        TokenScope::Ra,
        u64::from(config.tokens.ra_lifetime_days) * day,
        now,
        "serve:init",
    )?;
    let signer = authority.create_token(
        TokenScope::Signer {
            practitioner: DEMO_PRACTITIONER.into(),
        },
        u64::from(config.tokens.signer_lifetime_days) * day,
        now,
        "serve:init",
    )?;
    let lines = vec![
        format!(
            "demo credential: {} (Medical Doctor, practitioner {DEMO_PRACTITIONER})",
            credential.id
        ),
        format!("ra token (shown once): {}", ra.expose()),
        format!("demo signer token (shown once): {}", signer.expose()),
    ];
    Ok((authority, lines))
}
