# Filtered sources: exactly the files a derivation needs, so that a change anywhere else in
# the repository (docs/, tests/, .github/, ADRs, attest/measurements/) leaves every input of
# the image identical (ADR 0105). Without this, `workspaceRoot = ./.` made the whole checkout a
# source of the sealfeed package, and committing a golden measurement changed the digest it
# records.
#
# builtins.path with a filter, not lib.fileset: it evaluates on every Nix (lib.fileset needs
# Nix >= 2.14; the project CI evaluates the flake with Debian's 2.8, tests/nix/), and the
# resulting store path is a function of the fixed `name` and the selected files' contents
# only (NAR hash), never of where the checkout lives or what else it holds.
#
#   import ./pkgs/sources.nix { inherit lib; root = ./.; }
{ lib, root }:
let
  rootString = toString root;

  # Never part of a source, even when present in a local (non-flake) checkout.
  noise =
    rel:
    let
      base = baseNameOf rel;
    in
    base == "__pycache__" || lib.hasSuffix ".pyc" base || base == ".DS_Store";

  # Keep `include` (files or directories, relative to the root) and the directories leading
  # to them; nothing else.
  select =
    name: include:
    builtins.path {
      inherit name;
      path = root;
      filter =
        path: type:
        let
          rel = lib.removePrefix "${rootString}/" (toString path);
          inside = i: rel == i || lib.hasPrefix "${i}/" rel;
          leadsTo = i: type == "directory" && lib.hasPrefix "${rel}/" i;
        in
        !(noise rel) && lib.any (i: inside i || leadsTo i) include;
    };

  include = {
    # What uv_build packages: the metadata (pyproject.toml, deliberately without a `readme`,
    # so README edits never move the digest) and the import package. Not uv.lock: the build never reads it; the wheels it
    # pins enter the image as their own fixed-output store paths, chosen at evaluation.
    sealfeed = [
      "pyproject.toml"
      "src/sealfeed"
    ];
    # checks.pytest / checks.ruff: the image tools' tests read the Nix files and the fixture
    # measurement. Never an input of the image.
    tests = [
      "pyproject.toml"
      "README.md"
      "src"
      "tests"
      "flake.nix"
      "flake.lock"
      "pkgs"
      "modules"
      "attest/measurements"
    ];
  };
in
{
  inherit include;
  sealfeed = select "sealfeed-source" include.sealfeed;
  tests = select "sealfeed-test-source" include.tests;
}
