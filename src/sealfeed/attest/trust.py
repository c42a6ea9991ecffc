"""The pinned Intel SGX Root CA.

Intel publishes the root at https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem;
we pin its SHA-256 fingerprint (SHA-256 of the DER certificate), not the certificate:
every chain (PCK, TCB signing) must end in a self-signed certificate with this digest.
The same value lives in ``attest/intel-sgx-root-ca.sha256`` for auditors; a test keeps
the two equal.
"""

from __future__ import annotations

#: CN=Intel SGX Root CA, serial 22650CD65A9D3489F383B49552BF501B392706AC,
#: 2018-05-21 .. 2049-12-31 (../shared/tdx-samples/README.md section 2)
INTEL_SGX_ROOT_CA_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"


def normalize_fingerprint(fp: str) -> str:
    """Accept ``44:A0:...`` or ``44a0...``; return lowercase hex without separators."""
    h = fp.replace(":", "").strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        from sealfeed.errors import InputError

        raise InputError(f"not a SHA-256 fingerprint: {fp!r}")
    return h


__all__ = ["INTEL_SGX_ROOT_CA_SHA256", "normalize_fingerprint"]
