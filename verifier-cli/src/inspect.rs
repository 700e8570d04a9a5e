//! `inspect FILE`: a certificate, CRL, CSR or CMS signature, human-readable, hcRole decoded.

use ca_core::hcrole;
use ca_core::verify::{self, SignedDocument};
use der::Decode;
use x509_cert::Certificate;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::CertificateList;
use x509_cert::request::CertReq;

/// Returns true when the file was recognised; unrecognisable input is "not valid" (exit 1).
pub fn inspect(bytes: &[u8]) -> bool {
    if let Ok(certs) = verify::decode_certificates(bytes) {
        for der in certs {
            if let Ok(c) = Certificate::from_der(&der) {
                certificate(&c);
            }
        }
        return true;
    }
    let der = pem_or_der(bytes);
    if let Ok(crl) = CertificateList::<Rfc5280>::from_der(&der) {
        let tbs = &crl.tbs_cert_list;
        println!("CRL");
        println!("  issuer:      {}", tbs.issuer);
        println!("  thisUpdate:  {}", tbs.this_update.to_date_time());
        if let Some(n) = &tbs.next_update {
            println!("  nextUpdate:  {}", n.to_date_time());
        }
        let revoked = tbs.revoked_certificates.as_ref().map_or(0, Vec::len);
        println!("  revoked:     {revoked}");
        for r in tbs.revoked_certificates.iter().flatten().take(50) {
            println!(
                "    {} at {}",
                hex::encode_upper(r.serial_number.as_bytes()),
                r.revocation_date.to_date_time()
            );
        }
        return true;
    }
    if let Ok(csr) = CertReq::from_der(&der) {
        println!("CSR");
        println!("  subject:     {}", csr.info.subject);
        println!("  key:         {}", csr.info.public_key.algorithm.oid);
        return true;
    }
    match SignedDocument::parse(bytes) {
        Ok(doc) => {
            println!("CMS SignedData");
            println!(
                "  content:     {} ({})",
                doc.content_type(),
                if doc.is_detached() {
                    "detached"
                } else {
                    "encapsulated"
                }
            );
            println!("  signers:     {}", doc.signer_count());
            println!("  digests:     {:?}", doc.digest_algorithms());
            for der in doc.certificates() {
                if let Ok(c) = Certificate::from_der(&der) {
                    certificate(&c);
                }
            }
            true
        }
        Err(e) => {
            println!("not a certificate, CRL, CSR or CMS signature: {e}");
            false
        }
    }
}

fn pem_or_der(bytes: &[u8]) -> Vec<u8> {
    if bytes.trim_ascii().starts_with(b"-----BEGIN ")
        && let Ok((_, der)) = der::pem::decode_vec(bytes.trim_ascii())
    {
        return der;
    }
    bytes.to_vec()
}

fn certificate(c: &Certificate) {
    let s = verify::CertSummary::from(c);
    println!("Certificate");
    println!("  subject:     {}", s.subject);
    println!("  issuer:      {}", s.issuer);
    println!("  serial:      {}", s.serial);
    println!("  validity:    {} → {}", s.not_before, s.not_after);
    println!(
        "  key:         {}",
        c.tbs_certificate().subject_public_key_info().algorithm.oid
    );
    match hcrole::roles_of(c) {
        Ok(roles) if roles.is_empty() => {}
        Ok(roles) => {
            for r in roles {
                println!(
                    "  hcRole:      {} (scheme {}{})",
                    r.text.as_deref().unwrap_or("-"),
                    r.scheme,
                    r.code.map(|c| format!(", code {c}")).unwrap_or_default()
                );
            }
        }
        Err(e) => println!("  hcRole:      does not decode: {e}"),
    }
    for ext in c.tbs_certificate().extensions().into_iter().flatten() {
        println!(
            "  extension:   {}{}",
            ext.extn_id,
            if ext.critical { " (critical)" } else { "" }
        );
    }
}
