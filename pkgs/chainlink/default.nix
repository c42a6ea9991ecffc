# Chainlink node 2.27.0 from the pinned upstream tag, built the way upstream builds it:
# `go build` of the root package with the version/commit ldflags (core/chainlink.Dockerfile,
# GNUmakefile `install-chainlink`), CGO on (go-ethereum's secp256k1 needs it), and the operator
# UI assets that operator_ui/install.sh downloads, unpacked into core/web/assets before the
# build embeds them. Upstream release builds also ship `libs/` for optional cgo plugins via
# -r=$ORIGIN/libs; the data-feeds appliance runs OCR2 median in-process and needs none.
#
# Hashes: this tree cannot reach GitHub, so `hash`, `vendorHash` and the operator UI hash are
# lib.fakeHash. The image workflow (.github/workflows/image.yml, job "hashes") builds this
# package, reads the "got: sha256-..." lines Nix prints and publishes them; a maintainer pastes
# them here. Until then the build fails with a hash mismatch, never with an unpinned fetch
# (ADR 0081).
{
  lib,
  buildGoModule,
  fetchFromGitHub,
  fetchurl,
  stdenv,
}:
let
  version = "2.27.0";
  # Placeholders until the workflow reports the real values (see the header comment). One
  # binding per fixed-output derivation, so the workflow can fill each by name.
  srcHash = lib.fakeHash;
  operatorUiHash = lib.fakeHash;
  vendorHash = lib.fakeHash;

  # operator_ui/TAG at v2.27.0; checked against the source in preBuild.
  operatorUiTag = "v0.8.0-95aaf5c";
  operatorUi = fetchurl {
    url = "https://github.com/smartcontractkit/operator-ui/releases/download/${operatorUiTag}/smartcontractkit-operator-ui-${lib.removePrefix "v" operatorUiTag}.tgz";
    hash = operatorUiHash;
  };
in
buildGoModule {
  pname = "chainlink";
  inherit version;

  src = fetchFromGitHub {
    owner = "smartcontractkit";
    repo = "chainlink";
    rev = "v${version}";
    hash = srcHash;
  };

  inherit vendorHash;
  # `go mod vendor` drops C sources in directories without Go files (go-ethereum's
  # libsecp256k1); the proxy form of the module cache keeps them.
  proxyVendor = true;

  # CGO stays on (buildGoModule's default on Linux): go-ethereum's secp256k1 needs it.
  subPackages = [ "." ];

  # Same -X variables as upstream's goreleaser config; Sha carries the tag name because the
  # tag's commit hash cannot be resolved here (the version string is what operators read).
  ldflags = [
    "-s"
    "-w"
    "-X github.com/smartcontractkit/chainlink/v2/core/static.Version=${version}"
    "-X github.com/smartcontractkit/chainlink/v2/core/static.Sha=v${version}"
  ];

  preBuild = ''
    if [ "$(cat operator_ui/TAG)" != "${operatorUiTag}" ]; then
      echo "operator_ui/TAG is $(cat operator_ui/TAG), pkgs/chainlink pins ${operatorUiTag}" >&2
      exit 1
    fi
    rm -rf core/web/assets
    mkdir -p core/web/assets ui-unpack
    tar -xzf ${operatorUi} -C ui-unpack
    cp -r ui-unpack/package/artifacts/. core/web/assets/
    rm -rf ui-unpack
  '';

  # Upstream's test suite needs PostgreSQL and network; the appliance tests run the binary.
  doCheck = false;

  # `go build` names the binary after the module path without its /v2 suffix: chainlink.
  postInstall = ''
    test -x $out/bin/chainlink
  '';

  passthru = { inherit operatorUi; };

  meta = {
    description = "Chainlink node (OCR2 data feeds), built from the pinned upstream tag";
    homepage = "https://github.com/smartcontractkit/chainlink";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "chainlink";
    broken = !stdenv.hostPlatform.isx86_64;
  };
}
