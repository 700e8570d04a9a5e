//! `signer-api serve`: the HTTP service. With no configuration it runs the embedded default: a
//! demo CA initialised in `./hpki-data` on first start, a demo practitioner with a "Medical Doctor"
//! signing credential, and tokens printed once.

use crate::admin::{self, InitArgs};
use crate::config::Config;
use crate::datadir::DataDir;
use crate::http::{self, AppState};
use anyhow::{Context, Result};
use actix_web::{HttpServer, web};
use ca_core::credential::NewCredential;
use ca_core::key::KeyAlgorithm;
use ca_core::purpose::SigningPolicy;
use ca_core::store::TokenScope;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

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
    let dir = DataDir::new(&config.data_dir, config.policies.as_deref());
    let mut first_start = Vec::new();
    if !dir.is_initialised() {
        first_start = initialise_demo(&dir, &config)?;
    }
    let authority = dir.open_authority()?;
    let state = web::Data::new(AppState {
        authority,
        purposes: SigningPolicy::embedded()?,
        config: config.clone(),
        metrics: Default::default(),
        crls: Default::default(),
    });
    actix_web::rt::System::new().block_on(async move {
        let app_state = state.clone();
        let server = HttpServer::new(move || http::app(app_state.clone()))
            .bind(&config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        let mut out = std::io::stdout().lock();
        for addr in server.addrs() {
            writeln!(out, "listening on http://{addr}")?;
        }
        writeln!(out, "root certificate: {}", dir.ca_pem("root").display())?;
        for line in &first_start {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        drop(out);
        server.run().await.context("serving")
    })
}

/// Creates the demo CA, the demo practitioner's signing credential and two tokens; returns the
/// lines to print once (the tokens are not stored in clear anywhere).
fn initialise_demo(dir: &DataDir, config: &Config) -> Result<Vec<String>> {
    let authority = admin::create_authority(dir, InitArgs::defaults(&config.base_url))?;
    let now = admin::now()?;
    let registration = ca_core::issue::Registration {
        profile: "rhp-sign".into(),
        subject: ca_core::name::parse_subject(&format!(
            "C=JP,O=hpki Demo Hospital,CN=Demo Doctor,serialNumber={DEMO_PRACTITIONER}"
        ))?,
        sans: Vec::new(),
        hc_roles: vec![DEMO_ROLE.parse()?],
        validity_days: Some(365),
    };
    let credential = authority.create_credential(
        &NewCredential {
            owner: DEMO_PRACTITIONER.into(),
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
    Ok(vec![
        format!("demo credential: {} (Medical Doctor, practitioner {DEMO_PRACTITIONER})", credential.id),
        format!("ra token (shown once): {}", ra.expose()),
        format!("demo signer token (shown once): {}", signer.expose()),
    ])
}
