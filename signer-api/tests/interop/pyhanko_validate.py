"""Independent validation of a CMS/CAdES signature with pyHanko (issue 14 acceptance).

Usage: pyhanko_validate.py SIGNATURE.der ROOT.pem [--content FILE] [--require-revinfo]
                           [--extra-cert PEM]... [--crl DER]...

Validates offline (no fetching) against ROOT only. With --require-revinfo, revocation is checked in
"hard-fail" mode from the data carried in the signature's SignedData.certificates / .crls (and
OCSP responses carried as RevocationInfoChoice other id-ri-ocsp-response) plus any --crl: a B-LT
signature must carry everything needed for the signer and its time-stamp. Prints one JSON object.
"""

import argparse
import asyncio
import json
import sys

from asn1crypto import cms, ocsp, pem, x509
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"


def load_cert(path):
    data = open(path, "rb").read()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return x509.Certificate.load(data)


def carried(signed_data):
    certs, crls, ocsps = [], [], []
    for choice in signed_data["certificates"] or []:
        if choice.name == "certificate":
            certs.append(choice.chosen)
    for choice in signed_data["crls"] or []:
        if choice.name == "crl":
            crls.append(choice.chosen)
        elif choice.name == "other":
            other = choice.chosen
            if other["other_rev_info_format"].dotted == ID_RI_OCSP_RESPONSE:
                ocsps.append(ocsp.OCSPResponse.load(other["other_rev_info"].dump()))
    return certs, crls, ocsps


def status_dict(status):
    if status is None:
        return None
    out = {
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted),
        "trust_problem": str(status.trust_problem_indic) if status.trust_problem_indic else None,
        "revoked": bool(getattr(status, "revoked", False)),
        "signer": status.signing_cert.subject.human_friendly,
    }
    if hasattr(status, "timestamp"):
        out["time"] = status.timestamp.isoformat()
    return out


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("signature")
    ap.add_argument("root")
    ap.add_argument("--content")
    ap.add_argument("--require-revinfo", action="store_true")
    ap.add_argument("--crl", action="append", default=[])
    args = ap.parse_args()

    info = cms.ContentInfo.load(open(args.signature, "rb").read())
    signed_data = info["content"]
    certs, crls, ocsps = carried(signed_data)
    # The time-stamp token's own SignedData carries the TSA chain when certReq was set.
    for si in signed_data["signer_infos"]:
        for attr in si["unsigned_attrs"] or []:
            if attr["type"].dotted == "1.2.840.113549.1.9.16.2.14":
                for token in attr["values"]:
                    c, _, _ = carried(token["content"])
                    certs.extend(c)
    crls.extend(open(f, "rb").read() for f in args.crl)
    context = ValidationContext(
        trust_roots=[load_cert(args.root)],
        other_certs=certs,
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        revocation_mode="hard-fail" if args.require_revinfo else "soft-fail",
    )
    if args.content:
        content = open(args.content, "rb").read()
    else:
        content = signed_data["encap_content_info"]
    status = await async_validate_detached_cms(
        content, signed_data, signer_validation_context=context
    )
    result = status_dict(status)
    result["bottom_line"] = bool(status.bottom_line)
    result["timestamp"] = status_dict(status.timestamp_validity)
    result["carried"] = {"certificates": len(certs), "crls": len(crls), "ocsp": len(ocsps)}
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
