"""schemathesis hooks of .ci/schemathesis.sh."""

import os

import schemathesis

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
