//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` read from the URL, rustls (ring) as
//! the TLS stack, and the small adapter the `postgres` client needs (`MakeTlsConnect`).
//!
//! tokio-postgres knows only `disable`, `prefer` and `require` and no CA file, so this module
//! takes both parameters out of the URL, hands the rest to `postgres::Config`, and verifies the
//! server itself, as libpq's modes say (libpq-connect §34.19 "SSL Support", table 34.1):
//! `disable`/`prefer`/`require` without `sslrootcert` encrypt without authenticating the server;
//! `require` with `sslrootcert` and `verify-ca` check the chain to those CAs; `verify-full` also
//! checks the URL's host against the certificate's names.

use super::StoreError;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How the server is authenticated, from `sslmode` and `sslrootcert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    /// Encrypted (when TLS is used), the server not authenticated.
    Nothing,
    /// The certificate chains to `sslrootcert`; any name.
    Chain,
    /// The certificate chains to `sslrootcert` and names the host connected to.
    ChainAndName,
}

/// A database URL split into what `postgres::Config` parses and the TLS set-up.
pub(super) struct Connect {
    pub(super) config: postgres::Config,
    /// `None` with `sslmode=disable`: no TLS at all.
    pub(super) tls: Option<MakeRustls>,
    /// The most connections the pool opens (`pool_size` in the URL, else `POOL_SIZE`).
    pub(super) pool_size: usize,
}

/// Reads `url` (libpq's URI form `postgres://…?sslmode=…&sslrootcert=FILE`, or its key=value
/// form with `sslmode` disable/prefer/require only). `sslrootcert` is read here: PEM CA
/// certificates.
pub(super) fn parse(url: &str) -> Result<Connect, StoreError> {
    let invalid = |e: String| StoreError::Backend(format!("database URL: {e}"));
    let (rest, pool_size) = split_pool_size(url).map_err(invalid)?;
    let (rest, mode, root) = split_tls_parameters(&rest).map_err(invalid)?;
    let mut config: postgres::Config = rest.parse().map_err(|e| invalid(format!("{e}")))?;
    let verify = match mode.as_deref() {
        // tokio-postgres's own reading of the key=value form (disable, prefer, require).
        None => match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => {
                return Ok(Connect {
                    config,
                    tls: None,
                    pool_size,
                });
            }
            _ if root.is_some() => Verify::Chain,
            _ => Verify::Nothing,
        },
        Some("disable") => {
            config.ssl_mode(postgres::config::SslMode::Disable);
            return Ok(Connect {
                config,
                tls: None,
                pool_size,
            });
        }
        Some("prefer") => {
            config.ssl_mode(postgres::config::SslMode::Prefer);
            Verify::Nothing
        }
        // libpq: "if a root CA file exists, require behaves like verify-ca".
        Some("require") => {
            config.ssl_mode(postgres::config::SslMode::Require);
            if root.is_some() {
                Verify::Chain
            } else {
                Verify::Nothing
            }
        }
        Some(mode @ ("verify-ca" | "verify-full")) => {
            if root.is_none() {
                return Err(invalid(format!(
                    "sslmode={mode} needs sslrootcert=FILE (the PEM certificates of the CAs \
                     that issued the server's certificate)"
                )));
            }
            config.ssl_mode(postgres::config::SslMode::Require);
            if mode == "verify-ca" {
                Verify::Chain
            } else {
                Verify::ChainAndName
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "sslmode={other} is not supported: use disable, prefer, require, verify-ca or \
                 verify-full"
            )));
        }
    };
    let roots = match &root {
        Some(path) => Some(read_roots(path)?),
        None => None,
    };
    let config_tls = client_config(verify, roots)?;
    Ok(Connect {
        config,
        tls: Some(MakeRustls(Arc::new(config_tls))),
        pool_size,
    })
}

/// Takes hpki's own `pool_size=N` (1 to 1000) out of a URL's query, which libpq does not know.
fn split_pool_size(url: &str) -> Result<(String, usize), String> {
    let is_uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_uri) else {
        return Ok((url.to_owned(), super::postgres::POOL_SIZE));
    };
    let mut size = super::postgres::POOL_SIZE;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool_size", value)) => {
                size = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        format!("pool_size={value}: a number of connections, 1 to 1000")
                    })?;
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, size))
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query (percent-decoded); other forms are
/// returned whole.
fn split_tls_parameters(url: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let is_uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_uri) else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(percent_decode(value)?),
            Some(("sslrootcert", value)) => root = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root))
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {value:?}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} is not UTF-8 once decoded"))
}

fn read_roots(path: &str) -> Result<RootCertStore, StoreError> {
    let bad = |e: String| StoreError::Backend(format!("sslrootcert {path}: {e}"));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("{e:?}")))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(roots)
}

fn client_config(verify: Verify, roots: Option<RootCertStore>) -> Result<ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS: {e}")))?;
    let webpki = match roots {
        Some(roots) => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| StoreError::Backend(format!("TLS: {e}")))?,
        ),
        None => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, webpki) {
        (Verify::ChainAndName, Some(webpki)) => webpki,
        (Verify::Chain, Some(webpki)) => Arc::new(AnyName(webpki)),
        (Verify::Nothing, _) | (Verify::Chain | Verify::ChainAndName, None) => {
            Arc::new(Unauthenticated(provider))
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: webpki's verdict on the chain, a certificate for another name accepted (webpki
/// checks the name after the chain, so `NotValidForName` means the chain verified).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA file: the channel is encrypted and the handshake
/// signature checked, but any certificate is taken (libpq's meaning of these modes).
#[derive(Debug)]
struct Unauthenticated(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unauthenticated {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What `postgres::Config::connect` takes to speak TLS: one rustls configuration for every
/// connection of the pool.
#[derive(Clone)]
pub(super) struct MakeRustls(Arc<ClientConfig>);

impl MakeTlsConnect<postgres::Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, io::Error> {
        // The host as written in the URL: a DNS name or an IP address (webpki matches either
        // against the certificate's subjectAltName). A Unix socket path is no name: TLS is not
        // used on a socket.
        let name = ServerName::try_from(host.to_owned()).ok();
        Ok(RustlsConnect {
            config: self.0.clone(),
            name,
        })
    }
}

pub(super) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: Option<ServerName<'static>>,
}

impl TlsConnect<postgres::Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, socket: postgres::Socket) -> Self::Future {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS needs a host name or IP address to verify",
                )
            })?;
            let stream = tokio_rustls::TlsConnector::from(self.config)
                .connect(name, socket)
                .await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

/// A TLS connection to the server.
pub(super) struct RustlsStream(Box<tokio_rustls::client::TlsStream<postgres::Socket>>);

impl TlsStream for RustlsStream {
    /// RFC 5929 §4.1 tls-server-end-point, for SCRAM-SHA-256-PLUS: the hash of the server's
    /// certificate under its signature's hash (SHA-256 for MD5 and SHA-1); none for other
    /// signature algorithms, as PostgreSQL's own server side.
    fn channel_binding(&self) -> ChannelBinding {
        let Some(cert) = self
            .0
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
        else {
            return ChannelBinding::none();
        };
        match end_point_hash(cert) {
            Some(algorithm) => ChannelBinding::tls_server_end_point(
                ring::digest::digest(algorithm, cert).as_ref().to_vec(),
            ),
            None => ChannelBinding::none(),
        }
    }
}

fn end_point_hash(cert: &[u8]) -> Option<&'static ring::digest::Algorithm> {
    use const_oid::db::rfc5912 as oids;
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert).ok()?;
    let oid = cert.signature_algorithm().oid;
    if [
        oids::MD_5_WITH_RSA_ENCRYPTION,
        oids::SHA_1_WITH_RSA_ENCRYPTION,
        oids::SHA_256_WITH_RSA_ENCRYPTION,
        oids::ECDSA_WITH_SHA_256,
    ]
    .contains(&oid)
    {
        Some(&ring::digest::SHA256)
    } else if [oids::SHA_384_WITH_RSA_ENCRYPTION, oids::ECDSA_WITH_SHA_384].contains(&oid) {
        Some(&ring::digest::SHA384)
    } else if [oids::SHA_512_WITH_RSA_ENCRYPTION, oids::ECDSA_WITH_SHA_512].contains(&oid) {
        Some(&ring::digest::SHA512)
    } else {
        None
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url() {
        let (rest, mode, root) = split_tls_parameters(
            "postgres://u@db.example:5432/hpki?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db.example:5432/hpki?connect_timeout=3");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, _) = split_tls_parameters("host=db sslmode=require").unwrap();
        assert_eq!((rest.as_str(), mode), ("host=db sslmode=require", None));
    }

    #[test]
    fn verifying_modes_need_a_ca_file_and_unknown_modes_are_refused() {
        for (url, needle) in [
            ("postgres://db/x?sslmode=verify-full", "needs sslrootcert"),
            ("postgres://db/x?sslmode=verify-ca", "needs sslrootcert"),
            (
                "postgres://db/x?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            (
                "postgres://db/x?sslmode=require&sslrootcert=/nonexistent/ca.pem",
                "sslrootcert /nonexistent/ca.pem",
            ),
        ] {
            let error = parse(url).err().unwrap().to_string();
            assert!(error.contains(needle), "{url}: {error}");
        }
        assert!(
            parse("postgres://db/x?sslmode=disable")
                .unwrap()
                .tls
                .is_none()
        );
        assert!(
            parse("postgres://db/x?sslmode=require")
                .unwrap()
                .tls
                .is_some()
        );
    }
}
