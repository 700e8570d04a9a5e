"""schemathesis hooks of .ci/schemathesis.sh."""

import os

import schemathesis
from hypothesis import strategies as st

# The public ids of the tokens the runs authenticate with (HPKI_ST_TOKEN_IDS, space-separated,
# set by the script).
OWN_TOKEN_IDS = set(os.environ["HPKI_ST_TOKEN_IDS"].split())


@schemathesis.hook
def before_call(context, case, kwargs):
    # The stateful phase revokes the token ids that GET /v1/tokens lists, the runs' own among
    # them; every later request would then be a 401 that tests nothing. An unknown id (404)
    # stands in for them; other tokens' ids are revoked as generated.
    if (
        case.method.upper() == "DELETE"
        and case.path == "/v1/tokens/{id}"
        and (case.path_parameters or {}).get("id") in OWN_TOKEN_IDS
    ):
        case.path_parameters["id"] = "0" * 32


# POST /v1/ocsp takes a DER OCSPRequest (application/ocsp-request, RFC 6960 A.1.1): raw octets,
# sent as schemathesis sends application/octet-stream.
schemathesis.serializer.alias("application/ocsp-request", "application/octet-stream")


def _der(tag, content):
    """One DER TLV (definite length)."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


# (DER OID, digest length): SHA-256, SHA-384, SHA-512 (granted) and SHA-1 (badAlg).
_HASHES = [
    (bytes.fromhex("0609608648016503040201"), 32),
    (bytes.fromhex("0609608648016503040202"), 48),
    (bytes.fromhex("0609608648016503040203"), 64),
    (bytes.fromhex("06052b0e03021a"), 20),
]


@st.composite
def _timestamp_query(draw):
    """A DER TimeStampReq (RFC 3161 §2.4.1): mostly well-formed requests, some with a wrong
    imprint length; the service answers each with a TimeStampResp, granted or rejected."""
    oid, length = draw(st.sampled_from(_HASHES))
    algorithm = _der(0x30, oid + draw(st.sampled_from([b"", b"\x05\x00"])))
    if draw(st.booleans()):
        length = draw(st.integers(min_value=0, max_value=80))
    imprint = _der(0x30, algorithm + _der(0x04, draw(st.binary(min_size=length, max_size=length))))
    body = b"\x02\x01\x01" + imprint
    nonce = draw(st.none() | st.integers(min_value=1, max_value=2**64))
    if nonce is not None:
        body += _der(0x02, nonce.to_bytes(nonce.bit_length() // 8 + 1, "big"))
    if draw(st.booleans()):
        body += b"\x01\x01\xff"
    return _der(0x30, body)


# A time-stamp request is DER, not JSON: well-formed requests, and arbitrary bytes (which the
# service answers with a badDataFormat rejection).
schemathesis.openapi.media_type(
    "application/timestamp-query", _timestamp_query() | st.binary(max_size=512)
)
