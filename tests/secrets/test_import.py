"""``sealfeed secrets import``: sealed bundles in, every secret file given to its reader."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config.loader import secret_file_refs
from sealfeed.errors import InputError, VerificationError
from sealfeed.secrets.importer import ServiceAccount, plan_import, run_import
from sealfeed.secrets.keys import IMPORT_KEY, IMPORT_PUB, ensure_import_key, public_bytes
from sealfeed.secrets.sealed import seal

NOBODY = ServiceAccount("nobody", 65534, 65534, frozenset({65534}))


def _solution(solution: dict[str, Any]) -> dict[str, Any]:
    solution["chainlinkPassword"] = {"secretFile": "chainlink/api-password", "generate": True}
    solution["chainlinkKeystorePassword"] = {"secretFile": "chainlink/ks-password",
                                             "generate": True}  # fmt: skip
    src = solution["priceAggregatorConfig"]["sources"]
    src["finnhub"] = {"enabled": True, "apiKey": {"secretFile": "exchanges/finnhub.key"}}
    src["cryptocompare"] = {"enabled": True, "apiKey": {"secretFile": "exchanges/cc.key"}}
    return solution


def _bundle(inputs: Path, secrets: Path, values: dict[str, str], name: str = "ops") -> Path:
    key, _ = ensure_import_key(secrets)
    path = inputs / "input-0001" / f"{name}.sealed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(seal(values, public_bytes(key)).to_json()))
    return path


def _mode(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_import_is_atomic_owned_and_idempotent(tmp_path: Path, solution: dict[str, Any]) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    refs = secret_file_refs(_solution(solution))
    secrets, inputs = tmp_path / "secrets", tmp_path / "inputs"
    secrets.mkdir(mode=0o750)
    os.chown(secrets, 0, 65534)  # like the image: 0750 root:sealfeed
    _bundle(
        inputs,
        secrets,
        {"exchanges/finnhub.key": "fh-key-12345", "exchanges/cc.key": "cc-key-6789"},
    )
    owners = {"aggregator": NOBODY}
    first = run_import(refs, secrets, [inputs], owners)
    assert sorted(first.imported) == ["exchanges/cc.key", "exchanges/finnhub.key"]
    assert sorted(first.generated) == ["chainlink/api-password", "chainlink/ks-password"]
    assert first.missing == [] and first.key_created is False
    assert _mode(secrets / "exchanges" / "finnhub.key") == (65534, 65534, 0o600)
    assert (secrets / "exchanges" / "finnhub.key").read_text() == "fh-key-12345\n"
    assert _mode(secrets / "chainlink" / "api-password") == (0, 0, 0o600)  # chainlink-render's
    assert _mode(secrets / IMPORT_KEY)[2] == 0o600
    assert stat.S_IMODE((secrets / "exchanges").stat().st_mode) & 0o001  # nobody may enter
    assert stat.S_IMODE((secrets / "exchanges").stat().st_mode) & 0o004 == 0  # not list
    text = json.dumps(first.as_dict()) + first.human()
    assert "fh-key-12345" not in text and "cc-key-6789" not in text
    again = run_import(refs, secrets, [inputs], owners)
    assert again.imported == [] and again.generated == [] and again.owners_fixed == []
    assert sorted(again.unchanged) == ["exchanges/cc.key", "exchanges/finnhub.key"]
    # a file someone left world-readable and root's is given back to its reader, 0600
    leak = secrets / "exchanges" / "finnhub.key"
    os.chown(leak, 0, 0)
    leak.chmod(0o644)
    fixed = run_import(refs, secrets, [inputs], owners)
    assert "exchanges/finnhub.key" in fixed.owners_fixed
    assert _mode(leak) == (65534, 65534, 0o600)


def test_nothing_is_written_unless_every_bundle_fits(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    refs = secret_file_refs(_solution(solution))
    secrets, inputs = tmp_path / "secrets", tmp_path / "inputs"
    _bundle(inputs, secrets, {"exchanges/finnhub.key": "fh-key-12345"}, "good")
    _bundle(inputs, secrets, {"exchanges/unknown.key": "value-1234",
                              "chainlink/api-password": "chosen-outside"}, "bad")  # fmt: skip
    with pytest.raises(InputError) as err:
        run_import(refs, secrets, [inputs], {})
    assert "exchanges/unknown.key: the configuration references no such secret file" in str(
        err.value
    )
    assert 'chainlink/api-password: generated inside the appliance ("generate": true)' in str(
        err.value
    )
    assert not (secrets / "exchanges").exists()
    assert "value-1234" not in str(err.value) and "chosen-outside" not in str(err.value)


def test_a_bundle_for_another_appliance_stops_the_import(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    refs = secret_file_refs(_solution(solution))
    secrets, inputs = tmp_path / "secrets", tmp_path / "inputs"
    _bundle(inputs, tmp_path / "elsewhere", {"exchanges/finnhub.key": "fh-key-12345"})
    with pytest.raises(VerificationError, match="sealed to import key sha256:"):
        run_import(refs, secrets, [inputs], {})
    assert not (secrets / "exchanges").exists()
    assert (secrets / IMPORT_PUB).is_file()  # the key this appliance does have


def test_one_file_two_accounts_is_refused(solution: dict[str, Any]) -> None:
    sol = _solution(solution)
    sol["chainlinkPassword"] = {"secretFile": "exchanges/finnhub.key"}  # shared with finnhub
    with pytest.raises(InputError, match="read by aggregator as nobody, chainlink as root"):
        plan_import(secret_file_refs(sol), [], {"aggregator": NOBODY})


def test_missing_operator_secrets_are_reported_by_name(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    report = run_import(secret_file_refs(_solution(solution)), tmp_path / "s", [], {})
    assert sorted(report.missing) == ["exchanges/cc.key", "exchanges/finnhub.key"]
    assert "MISSING" in report.human()


def test_inputs_are_read_bounded_and_links_are_refused(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    refs = secret_file_refs(_solution(solution))
    secrets, inputs = tmp_path / "secrets", tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "zero.sealed.json").symlink_to("/dev/zero")  # the host's inputs are hostile
    with pytest.raises(InputError, match="larger than"):
        run_import(refs, secrets, [inputs], {})
    (inputs / "zero.sealed.json").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (secrets / "exchanges").symlink_to(elsewhere)
    (elsewhere / "finnhub.key").write_text("planted-1234\n")
    with pytest.raises(InputError, match="must not be a symbolic link"):
        run_import(refs, secrets, [inputs], {"aggregator": NOBODY})
    assert (elsewhere / "finnhub.key").stat().st_uid == os.getuid()  # untouched


def _with_push(solution: dict[str, Any]) -> dict[str, Any]:
    solution["sealfeed"].setdefault("exporter", {})["metricsPush"] = {
        "bearerToken": {"secretFile": "push/exporter.token"}}  # fmt: skip
    solution["priceAggregatorConfig"]["metricsPush"] = {"enabled": False, "basicAuth": {
        "username": "ops", "password": {"secretFile": "push/aggregator.password"}}}  # fmt: skip
    return _solution(solution)


def test_the_link_gets_its_own_copy_of_the_push_credentials_only(
    tmp_path: Path, solution: dict[str, Any]
) -> None:
    """ADR 0146: the link runs as its own account but pushes with the exporter's credentials.
    It gets a 0600 copy of exactly those, owned by it, in its own directory; the exporter
    keeps its file; the aggregator's push password and everything else stay out of reach."""
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    from sealfeed.secrets.importer import reader_files

    refs = secret_file_refs(_with_push(solution))
    assert reader_files(refs, "link") == ["push/exporter.token"]
    secrets, link_dir = tmp_path / "secrets", tmp_path / "run" / "link" / "secrets"
    (secrets / "push").mkdir(parents=True, mode=0o700)
    for name, value in (("exporter.token", "exp-token-1"), ("aggregator.password", "agg-pw")):
        (secrets / "push" / name).write_text(value + "\n")
        (secrets / "push" / name).chmod(0o600)
    link = ServiceAccount("sealfeed-link", 4242, 4243, frozenset({4243}))
    owners = {"exporter": NOBODY, "aggregator": ServiceAccount("agg", 4100, 4100), "link": link}
    report = run_import(refs, secrets, [], owners, {"link": link_dir})
    assert report.copies == {"link": ["push/exporter.token"]}
    assert "copied for link: push/exporter.token" in report.human()
    copy = link_dir / "push" / "exporter.token"
    assert copy.read_text() == "exp-token-1\n"
    assert _mode(copy) == (4242, 4243, 0o600)
    assert _mode(link_dir) == _mode(link_dir / "push") == (4242, 4243, 0o700)
    assert _mode(secrets / "push" / "exporter.token") == (65534, 65534, 0o600)  # still its own
    assert sorted(p.name for p in link_dir.rglob("*") if p.is_file()) == ["exporter.token"]
    # idempotent, and a changed original is copied again on the next boot
    (secrets / "push" / "exporter.token").write_text("exp-token-2\n")
    run_import(refs, secrets, [], owners, {"link": link_dir})
    assert copy.read_text() == "exp-token-2\n" and _mode(copy) == (4242, 4243, 0o600)


def test_reader_dirs_are_checked(tmp_path: Path, solution: dict[str, Any]) -> None:
    refs = secret_file_refs(_with_push(solution))
    secrets = tmp_path / "secrets"
    with pytest.raises(InputError, match="aggregator reads no other component's secrets"):
        run_import(refs, secrets, [], {}, {"aggregator": tmp_path / "x"})
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="must be a directory, not a link"):
        run_import(refs, secrets, [], {}, {"link": tmp_path / "link"})
