//! `inspect` and the text report name what they show (issue 11): extensions by name with their
//! decoded values and criticality, keys by algorithm and size, hcRoles, signature purposes by
//! their name in `policies/purposes/signing.toml`, CRL entries with their reasons. Each case runs
//! the real binary on a committed vector and looks for lines in their place (a value under its
//! extension), so a wrong decoder or a lost name fails.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_verifier-cli");

fn vectors() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

/// Runs the CLI in `test-vectors/`; returns the exit status and stdout.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .current_dir(vectors())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn assert_shows(what: &str, text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "{what}: no {w:?} in\n{text}");
    }
}

/// (file under test-vectors/, what must appear: multi-line pieces keep a value under its title).
const INSPECTED: &[(&str, &[&str])] = &[
    // An rhp-sign certificate issued by ca-core under policies/rhp-sign.toml.
    (
        "pki/rhp-sign.pem",
        &[
            "  key:         EC P-256\n",
            "    Key Usage: critical\n      Non Repudiation\n",
            "    Certificate Policies: critical\n      Policy: 2.25.2026112801.1\n        CPS: http://hpki.invalid/cps\n",
            "    Subject Directory Attributes:\n      hcRole: Medical Doctor, scheme id-jhpki-cdata (1.2.392.100495.1.6.1.1)\n",
            "    Authority Information Access:\n      CA Issuers - URI:http://hpki.invalid/v1/ca/sign.der\n",
            "    Subject Key Identifier:\n      A8:16:C4:27:0F:82:41:08:68:F2:D4:C9:4C:28:E2:D7:A1:8A:DF:2C\n",
        ],
    ),
    // The signing CA: basicConstraints and the CA key usages.
    (
        "pki/ca/sign.pem",
        &[
            "    Basic Constraints: critical\n      CA:TRUE, pathlen:0\n",
            "    Key Usage: critical\n      Certificate Sign, CRL Sign\n",
            "  key:         RSA 3072\n",
        ],
    ),
    // A real JP HPKI certificate (MEDIS test pharmacist).
    (
        "jp-hpki/medis-test-ee-pharmacist.der",
        &[
            "  key:         RSA 2048\n",
            "      hcRole: Pharmacist, scheme id-jhpki-cdata (1.2.392.100495.1.6.1.1)\n",
            "    CRL Distribution Points:\n      Full Name:\n        URI:http://cert.medis.or.jp/sign/crl-sign2.crl\n",
            "    Certificate Policies: critical\n      Policy: 1.2.392.100495.1.5.1.1.0.1\n",
            "    Subject Alternative Name:\n      DirName:SERIALNUMBER=Test317044,CN=神楽坂　四十,O=医療情報大学病院,C=JP\n",
            "      serial:04\n",
        ],
    ),
    // A signature whose commitment type is ASTM E1762 author.
    (
        "cms/valid-purpose-author.p7s",
        &[
            "  content:     id-data (1.2.840.113549.1.7.1) (encapsulated, 53 bytes)\n",
            "    signature:   sha256WithRSAEncryption (1.2.840.113549.1.1.11)\n",
            "      Commitment Type:\n        author (Author's Signature), 1.2.840.10065.1.12.1.1\n",
            "      Signing Time:\n        2026-01-01T02:30:00Z (claimed by the signer)\n",
            "      Content Type:\n        id-data (1.2.840.113549.1.7.1)\n",
            "      Signing Certificate V2:\n        certificate hash: id-sha256 (2.16.840.1.101.3.4.2.1) ",
            "          serial: 690D86D59E9973DC1E329E3E27F8F05B\n",
            "  certificates: 2\n",
            "      hcRole:      Medical Doctor, scheme id-jhpki-cdata",
        ],
    ),
    // The signing CA's CRL: one keyCompromise entry with an invalidity date.
    (
        "pki/crl/sign.crl",
        &[
            "  thisUpdate:  2026-01-01T02:00:00Z\n  nextUpdate:  2026-01-08T02:00:00Z\n",
            "    CRL Number:\n      1\n",
            "  revoked:     1\n    serial 776C75E097A4FB7C7ED2FF7D306C904C: revoked 2026-01-01T01:00:00Z\n      CRL Reason Code:\n        Key Compromise\n      Invalidity Date:\n        2026-01-01T00:01:00Z\n",
        ],
    ),
    // A real JP HPKI CRL.
    (
        "jp-hpki/medis-sign-ca2-20220928.crl.der",
        &[
            "    CRL Number:\n      1483\n",
            "  revoked:     30\n    serial 00DD: revoked 2019-01-17T01:14:57Z\n      CRL Reason Code:\n        Cessation Of Operation\n",
        ],
    ),
];

#[test]
fn inspect_names_extensions_keys_roles_purposes_and_reasons() {
    for (file, wanted) in INSPECTED {
        let (code, text) = run(&["inspect", file]);
        assert_eq!(code, Some(0), "{file}: {text}");
        assert_shows(file, &text, wanted);
        // Names, not the dotted forms of what has a name.
        for oid in ["1.2.840.10045.2.1", "2.5.29.15 ", "2.5.29.9 "] {
            assert!(!text.contains(oid), "{file}: shows {oid}:\n{text}");
        }
    }
}

/// Untrusted input: an extension that does not decode is shown as such with its bytes, an
/// unknown one by OID and hex; the rest of the certificate is still shown.
#[test]
fn inspect_shows_what_does_not_decode_and_unknown_extensions() {
    let pem = std::fs::read(vectors().join("pki/rhp-sign.pem")).unwrap();
    let (_, mut der) = der::pem::decode_vec(&pem).unwrap();
    let replace = |der: &mut Vec<u8>, from: &[u8], to: &[u8]| {
        let at = der
            .windows(from.len())
            .position(|w| w == from)
            .unwrap_or_else(|| panic!("{from:02x?} not in the certificate"));
        der[at..at + from.len()].copy_from_slice(to);
    };
    // keyUsage BIT STRING with 9 unused bits (X.690 §8.6.2.2 allows 0..7).
    replace(
        &mut der,
        &[0x04, 0x04, 0x03, 0x02, 0x06, 0x40],
        &[0x04, 0x04, 0x03, 0x02, 0x09, 0x40],
    );
    // id-pe-authorityInfoAccess (1.3.6.1.5.5.7.1.1) → 1.3.6.1.5.5.7.1.99, which nothing names.
    replace(
        &mut der,
        &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01],
        &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x63],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edited.der");
    std::fs::write(&file, &der).unwrap();
    let (code, text) = run(&["inspect", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    assert_shows(
        "edited rhp-sign",
        &text,
        &[
            "    Key Usage: critical\n      does not decode: ",
            "\n      03 02 09 40\n",
            "    1.3.6.1.5.5.7.1.99:\n      30 30 30 2e 06 08 2b 06 01 05 05 07 30 02 86 22\n",
            "      hcRole: Medical Doctor",
            "  key:         EC P-256\n",
        ],
    );
}

/// The text report names the purpose, the key and the algorithms; `--format json` keeps the OIDs
/// where they were and adds the names beside them.
#[test]
fn the_report_names_purpose_key_and_algorithms() {
    let args = [
        "verify",
        "--cms",
        "cms/valid-purpose-author.p7s",
        "--trust-anchor",
        "pki/ca/root.pem",
        "--crl",
        "pki/crl/root.crl",
        "--crl",
        "pki/crl/sign.crl",
        "--at",
        "2026-01-01T03:00:00Z",
    ];
    let (code, text) = run(&args);
    assert_eq!(code, Some(0), "{text}");
    assert_shows(
        "text report",
        &text,
        &[
            "VALID: TOTAL-PASSED\n",
            "  key:     RSA 2048\n",
            "  algs:    sha256WithRSAEncryption, digest id-sha256\n",
            "  role:    Medical Doctor, scheme id-jhpki-cdata (1.2.392.100495.1.6.1.1)\n",
            "  purpose: author (Author's Signature)\n",
            "  signed:  2026-01-01T02:30:00Z (claimed)\n",
        ],
    );
    assert!(!text.contains("1.2.840.10065.1.12.1.1"), "{text}");

    let (code, json) = run(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, Some(0), "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let s = &report["signatures"][0];
    assert_eq!(s["purpose"], "1.2.840.10065.1.12.1.1");
    assert_eq!(s["purpose_name"], "author (Author's Signature)");
    assert_eq!(s["signer_key"], "RSA 2048");
    assert_eq!(s["signature_algorithm"]["oid"], "1.2.840.113549.1.1.11");
    assert_eq!(s["signature_algorithm"]["name"], "sha256WithRSAEncryption");
    assert_eq!(s["digest_algorithm"]["oid"], "2.16.840.1.101.3.4.2.1");
    assert_eq!(s["digest_algorithm"]["name"], "id-sha256");
    assert_eq!(s["hc_roles"][0]["scheme"], "1.2.392.100495.1.6.1.1");
}

/// Every one-byte corruption and every truncation of the vectors above renders (the library
/// function the binary and `fuzz/` call): what decodes is shown, nothing panics.
#[test]
fn inspect_of_corrupted_vectors_never_panics() {
    for (file, _) in INSPECTED {
        let bytes = std::fs::read(vectors().join(file)).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0xff;
            let (_, text) = verifier_cli::inspect::render(&bad);
            assert!(!text.is_empty(), "{file} byte {i}");
            let (_, text) = verifier_cli::inspect::render(&bytes[..i]);
            assert!(!text.is_empty(), "{file} cut at {i}");
        }
    }
}
