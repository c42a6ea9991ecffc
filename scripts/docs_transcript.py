"""Real command output for docs/deploy-super-protocol.md.

Builds a throwaway world in a temporary directory with the same synthetic builders the tests
use -- a small docker-archive (tests/image/builders.py ``docker_archive``), a TDX quote and
its collateral from the synthetic Intel PKI (tests/fakes/intel_pki.py ``Scenario``) whose
report_data binds the image and the signed configuration, and a Super Protocol order report
(tests/fakes/superprotocol.py ``SpWorld``) -- then runs the real ``python -m sealfeed ...``
commands in it and prints a Markdown transcript: one ```console block per command, the command
as an operator types it (``sealfeed ...``, paths relative to the world) and its output.

    uv run python scripts/docs_transcript.py            # Markdown on stdout
    uv run python scripts/docs_transcript.py --json     # [{"id", "command", "exit", "output"}]
    uv run python scripts/docs_transcript.py --update-doc   # refresh the doc's blocks in place

tests/test_docs_transcript.py runs it and checks that every ```console block in the doc still
produces the same first line of output (after :func:`normalise`), so the doc cannot rot.
Nothing here needs the network, Nix or Super Protocol.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the synthetic builders live in tests/
    sys.path.insert(0, str(REPO))

VERSION = "0.1.0"
ARCHIVE = f"sealfeed-image-{VERSION}.tar.gz"
MEASUREMENT = f"attest/measurements/{VERSION}.json"
ORDER_ID = "4242"
REPORT = f"order-{ORDER_ID}-report.json"
#: Operator-supplied secrets referenced from the configuration (names are the operator's
#: choice; these two are the values the schema requires, docs/config.md).
SECRET_REFS = {
    "chainlinkPassword": "chainlink/api-password",
    "chainlinkKeystorePassword": "chainlink/keystore-password",
}


@dataclass(frozen=True)
class Step:
    id: str
    argv: tuple[str, ...]  # after `sealfeed`
    output: str = ""
    exit: int = 0

    @property
    def command(self) -> str:
        return display_command(self.argv)


def display_command(argv: Sequence[str]) -> str:
    """``sealfeed a b`` on one line, or wrapped before each ``--flag`` when long."""
    words = ["sealfeed", *(shlex.quote(a) for a in argv)]
    line = " ".join(words)
    if len(line) <= 90:
        return line
    lines: list[str] = []
    current = ""
    for word in words:
        if word.startswith("--") and current and len(current) + len(word) + 1 > 60:
            lines.append(current)
            current = "    " + word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return " \\\n".join(lines)


# --------------------------------------------------------------------------- the world


def docker_archive_gz(path: Path, payload: bytes) -> str:
    """The test suite's docker-save archive (tests/image/builders.py), gzip-compressed like
    ``nix build``'s result (mtime 0, no name); returns the archive's sha256."""
    from tests.image.builders import Spec, docker_archive, replace_entry

    spec = Spec()
    replace_entry(spec.layers, 1, "app/data.bin", data=payload)
    path.write_bytes(gzip.compress(docker_archive(spec), mtime=0))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_configuration(root: Path) -> None:
    """The embedded example solution, secrets as ``{"secretFile": ...}`` references, in the
    ``{"solution": {...}}`` shape Super Protocol mounts."""
    from sealfeed.config.example import example_solution

    solution = example_solution()
    for key, ref in SECRET_REFS.items():
        solution[key] = {"secretFile": ref}
    (root / "configuration.json").write_text(json.dumps({"solution": solution}, indent=2) + "\n")


def write_secrets(root: Path, name: str, values: dict[str, str]) -> None:
    from sealfeed.secret import Secret, write_secret_file

    for ref, value in values.items():
        path = root / name / ref
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_secret_file(path, Secret(value))


def build_evidence(root: Path) -> dict[str, str]:
    """Quote + collateral binding (image, signed configuration); a Super Protocol order report
    for the same pair with its trust anchors. Returns the times and pins the commands need."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from tests.fakes.intel_pki import Scenario
    from tests.fakes.superprotocol import NOW, SpWorld, pem

    from sealfeed.attest.appliance import AttestationDocument
    from sealfeed.attest.binding import appliance_report_data
    from sealfeed.config.objecthash import object_hash
    from sealfeed.secrets.keys import public_bytes

    image = hashlib.sha256((root / ARCHIVE).read_bytes()).hexdigest()
    config_hash = object_hash(json.loads((root / "configuration.json").read_text()))
    # the appliance's start-up quote also commits to its secrets-import key (ADR 0134)
    import_key = public_bytes(X25519PrivateKey.generate())
    report_data = appliance_report_data(image, config_hash, import_key)
    built = dataclasses.replace(Scenario(), report_data=report_data).build()
    (root / "quote.bin").write_bytes(built.quote)
    (root / "collateral.json").write_text(built.collateral.to_json())
    td = built.parsed.td_report
    policy = {"mr_td": [td.mr_td.hex()], **{f"rtmr{i}": [r.hex()] for i, r in enumerate(td.rtmrs)}}
    (root / "td-policy.json").write_text(json.dumps(policy, indent=2) + "\n")
    # ... and the document it serves at GET /attestation (``sealfeed attest startup``)
    document = AttestationDocument(
        attested=True, created_at=built.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        image_sha256=image, image_source="workloadInfo /sp/certs/order_report.json",
        config_hash=config_hash, import_key=import_key, quote=built.quote,
        report_data=report_data,
    )  # fmt: skip
    (root / "attestation.json").write_bytes(document.to_bytes())

    world = SpWorld()
    trust = root / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "superprotocol-ca.pem").write_text(pem(world.ca))
    (trust / "tee-loader.pem").write_text(pem(world.loader_cert))
    world.write_signatures(trust / "sp-vm-signatures")
    report = world.order_report(image, config_hash)
    (root / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    return {
        "quote_at": built.now.isoformat().replace("+00:00", "Z"),
        "root_fp": built.root_fingerprint,
        "sp_at": NOW.isoformat().replace("+00:00", "Z"),
    }


def sealfeed(root: Path, argv: Sequence[str]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIGURATION_", "SP_"))}
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "sealfeed", *argv],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, (proc.stdout + proc.stderr).rstrip("\n")


def run(root: Path) -> list[Step]:
    """Build the world in ``root`` and run every documented command, in order."""
    steps: list[Step] = []

    def do(step_id: str, *argv: str) -> Step:
        code, out = sealfeed(root, argv)
        step = Step(step_id, tuple(argv), out, code)
        steps.append(step)
        return step

    docker_archive_gz(root / ARCHIVE, b"the appliance")
    (root / "attest" / "measurements").mkdir(parents=True)
    do("measure", "image", "measure", ARCHIVE, "--write", MEASUREMENT)
    do("resource", "sp", "resource", "--image-measurement", MEASUREMENT,
       "--filename", ARCHIVE)  # fmt: skip

    do("keygen", "config", "keygen", "--scheme", "secp256k1-objecthash", "--out", "owner")
    write_configuration(root)
    # the owner's copy of the secrets the configuration references (never published)
    write_secrets(root, "secrets", {"chainlink/api-password": "api-password-0123456789",
                                    "chainlink/keystore-password": "keystore-password-0123456789"})  # fmt: skip
    do("check", "config", "check", "configuration.json", "--secrets-dir", "secrets")
    do("sign", "config", "sign", "configuration.json", "--key", "owner.pem")
    do("verify-config", "config", "verify", "configuration.json", "--pubkey", "owner.pub",
       "--secrets-dir", "secrets")  # fmt: skip
    do("resource-order", "sp", "resource", "--image-measurement", MEASUREMENT,
       "--order-id", ORDER_ID, "--filename", ARCHIVE,
       "--out", "verification/resource.json", "--json")  # fmt: skip

    pins = build_evidence(root)
    sp_trust = ("--sp-ca", "trust/superprotocol-ca.pem",
                "--tee-loader-cert", "trust/tee-loader.pem",
                "--sp-signatures", "trust/sp-vm-signatures")  # fmt: skip
    do("check-report", "sp", "check-report", REPORT, *sp_trust, "--at", pins["sp_at"])
    common = ("--image-measurement", MEASUREMENT, "--config", "configuration.json",
              "--pubkey", "owner.pub")  # fmt: skip
    # The auditor has the published configuration but none of the operator's secrets:
    # secret references are validated, their files are not read.
    do("verify-order", "verify", *common, "--order-report", REPORT, *sp_trust,
       "--at", pins["sp_at"])  # fmt: skip
    do("verify-quote", "verify", *common, "--quote", "quote.bin",
       "--collateral", "collateral.json", "--policy", "td-policy.json",
       "--root-ca-fingerprint", pins["root_fp"],
       "--at", pins["quote_at"])  # fmt: skip

    # The appliance's own document (GET /attestation, or the container log's line), then
    # the operator's secrets sealed to the import key it proves (ADR 0131).
    do("verify-attestation", "verify", *common, "--attestation", "attestation.json",
       "--collateral", "collateral.json", "--policy", "td-policy.json",
       "--root-ca-fingerprint", pins["root_fp"], "--at", pins["quote_at"])  # fmt: skip
    do("seal", "secrets", "seal", "--attestation", "attestation.json", *common,
       "--collateral", "collateral.json", "--policy", "td-policy.json",
       "--root-ca-fingerprint", pins["root_fp"], "--at", pins["quote_at"],
       "--from", "secrets", "--out", "operator.sealed.json")  # fmt: skip

    # One broken link: the operator edits the configuration after signing it.
    doc = json.loads((root / "configuration.json").read_text())
    doc["solution"]["chainlinkRpcHttpUrl"] = "https://rpc.attacker.example/"
    (root / "edited.json").write_text(json.dumps(doc, indent=2) + "\n")
    do("verify-edited", "verify", "--image-measurement", MEASUREMENT, "--config", "edited.json",
       "--pubkey", "owner.pub", "--order-report", REPORT, *sp_trust,
       "--at", pins["sp_at"])  # fmt: skip
    # And a different image than the golden measurement (e.g. an unreproducible build).
    docker_archive_gz(root / "other-image.tar.gz", b"another appliance")
    do("measure-other", "image", "measure", "other-image.tar.gz", "--write", "other.json")
    do("verify-other-image", "verify", "--image-measurement", "other.json",
       "--config", "configuration.json", "--pubkey", "owner.pub", "--order-report", REPORT,
       *sp_trust, "--at", pins["sp_at"])  # fmt: skip
    return steps


# --------------------------------------------------------------------------- rendering

_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(/private)?/tmp/[\w.\-/]+"), "<tmp>"),
    (re.compile(r"(sha256:)?[0-9a-f]{64}"), "<sha256>"),
    (re.compile(r"CONFIGURATION_PUBLIC_KEY=\S+"), "CONFIGURATION_PUBLIC_KEY=<base64>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<hex>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
]


def normalise(text: str) -> str:
    """Blank out what legitimately differs between runs: temp paths, digests of random keys
    and signatures, timestamps; collapse whitespace."""
    for pattern, repl in _SUBS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def to_markdown(steps: Sequence[Step]) -> str:
    out: list[str] = []
    for step in steps:
        out.append(f"<!-- transcript: {step.id} (exit {step.exit}) -->")
        out.append("```console")
        out.append(f"$ {step.command}")
        out.append(step.output)
        out.append("```")
        out.append("")
    return "\n".join(out)


DOC = REPO / "docs" / "deploy-super-protocol.md"
_BLOCK = re.compile(r"^```console\n\$ (.*?)^```", re.S | re.M)


def command_key(command: str) -> str:
    return normalise(command.replace("\\\n", " "))


def update_doc(markdown: str, steps: Sequence[Step]) -> tuple[str, list[str]]:
    """Replace the output of every ```console block whose command the transcript ran;
    returns the new text and the commands it did not find."""
    by_key = {command_key(s.command): s for s in steps}
    missing: list[str] = []

    def fresh(match: re.Match[str]) -> str:
        lines = match.group(1).splitlines()
        cmd = [lines[0]]
        while cmd[-1].endswith("\\") and len(cmd) < len(lines):
            cmd.append(lines[len(cmd)])
        step = by_key.get(command_key("\n".join(cmd)))
        if step is None:
            missing.append("\n".join(cmd))
            return match.group(0)
        block = f"```console\n$ {step.command}\n{step.output}\n```"
        old_output = match.group(1).splitlines()[len(cmd) :]
        if normalise("\n".join(old_output)) == normalise(step.output):
            return match.group(0)  # same modulo random keys: no churn in the diff
        return block

    return _BLOCK.sub(fresh, markdown), missing


def transcript() -> list[Step]:
    with tempfile.TemporaryDirectory(prefix="sealfeed-docs-") as tmp:
        return run(Path(tmp))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document instead")
    parser.add_argument("--update-doc", action="store_true",
                        help=f"rewrite the console blocks of {DOC.relative_to(REPO)} in place")  # fmt: skip
    args = parser.parse_args(argv)
    steps = transcript()
    if args.update_doc:
        text, missing = update_doc(DOC.read_text(encoding="utf-8"), steps)
        DOC.write_text(text, encoding="utf-8")
        for cmd in missing:
            print(f"not in the transcript, left as is: {cmd}", file=sys.stderr)
        return 1 if missing else 0
    if args.json:
        doc: list[dict[str, Any]] = [
            {"id": s.id, "command": s.command, "exit": s.exit, "output": s.output} for s in steps
        ]
        print(json.dumps(doc, indent=2))
    else:
        print(to_markdown(steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
