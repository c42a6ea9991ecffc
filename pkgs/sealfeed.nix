# The sealfeed Python application built with uv2nix from uv.lock (ADR 0001).
#
# `workspaceRoot` is only read at evaluation (pyproject.toml, uv.lock); the package is built
# from `src`, the filtered source of pkgs/sources.nix (ADR 0105), so nothing outside
# pyproject.toml and src/sealfeed reaches the image.
#
# Returns the pieces flake.nix needs: the package set, the shipped application (mkApplication:
# no interpreter activation scripts or pyvenv.cfg cruft in the image), the small verifier entry
# point, the editable set for the dev shell, and tests as derivations (pyproject-nix
# "testing" pattern) exported as flake checks.
{
  pkgs,
  pyproject-nix,
  uv2nix,
  pyproject-build-systems,
  workspaceRoot,
  src,
  testSrc,
}:
let
  inherit (pkgs) lib;

  workspace = uv2nix.lib.workspace.loadWorkspace { inherit workspaceRoot; };

  # Wheels from uv.lock (hash-pinned there); sdists only where no wheel exists.
  overlay = workspace.mkPyprojectOverlay { sourcePreference = "wheel"; };

  # uv2nix sets a local project's src to its project root (here: the whole checkout); the
  # per-package filter is uv2nix's recommended pattern (doc/src/patterns/source-filtering.md).
  sourceOverlay = _final: prev: {
    sealfeed = prev.sealfeed.overrideAttrs (_: { inherit src; });
  };

  editableOverlay = workspace.mkEditablePyprojectOverlay { root = "$REPO_ROOT"; };

  # Python 3.11 is the project's floor (pyproject requires-python >= 3.11); nixpkgs' default
  # python3 is newer and fine, but one interpreter is pinned so the closure is stable.
  python = pkgs.python312;

  pythonSet =
    (pkgs.callPackage pyproject-nix.build.packages { inherit python; }).overrideScope
      (
        lib.composeManyExtensions [
          pyproject-build-systems.overlays.wheel
          overlay
          sourceOverlay
        ]
      );

  editableSet = pythonSet.overrideScope editableOverlay;

  util = pkgs.callPackages pyproject-nix.build.util { };

  # The image's virtualenv: sealfeed with its default dependencies ONLY -- no optional
  # extras (the alternative ASGI servers are benchmark extras; granian is the one that ships,
  # ADR 0020) and no dependency group. Not workspace.deps.default: uv2nix honours
  # `[tool.uv] default-groups = ["dev"]`, so that is { sealfeed = [ "dev" ]; } and would ship
  # pytest, mypy and ruff. tests/nix/test_flake_eval.py checks that the venv's resolved
  # closure is exactly the closure of pyproject.toml's `dependencies` in uv.lock.
  venv = pythonSet.mkVirtualEnv "sealfeed-env" { sealfeed = [ ]; };

  # passthru (not part of the derivation): `nix build .#sealfeed.venv` / `.#sealfeed.package`
  # let the image workflow `--check` each of them, and tests inspect them.
  app =
    (util.mkApplication {
      inherit venv;
      package = pythonSet.sealfeed;
    }).overrideAttrs
      (old: {
        passthru = (old.passthru or { }) // {
          inherit venv;
          package = pythonSet.sealfeed;
        };
      });

  # The verifier for auditors: one command, `sealfeed-verify`, over the same locked closure
  # (a smaller closure needs a dependency-group split in pyproject.toml; see docs/nix.md).
  verifier = pkgs.writeShellApplication {
    name = "sealfeed-verify";
    runtimeInputs = [ app ];
    text = ''
      exec sealfeed verify "$@"
    '';
  };

  # deps.all includes the dev dependency group: pytest, hypothesis, ruff (pyproject.toml)
  testEnv = pythonSet.mkVirtualEnv "sealfeed-test-env" workspace.deps.all;

  tests = {
    # Pure tests only: the ones needing PostgreSQL, s6 or the network skip loudly in the sandbox.
    pytest = pkgs.runCommand "sealfeed-pytest" {
      nativeBuildInputs = [
        testEnv
        pkgs.s6
        pkgs.execline
        pkgs.nix
      ];
      # lets tests/test_nix_parse.py evaluate modules/ and pkgs/image.nix with the real lib
      SEALFEED_NIXPKGS_LIB = "${pkgs.path}/lib";
    } ''
      cp -r ${testSrc} src-tree && chmod -R u+w src-tree && cd src-tree
      export HOME=$TMPDIR
      pytest -q -p no:cacheprovider tests/image tests/test_nix_parse.py
      touch $out
    '';
    ruff = pkgs.runCommand "sealfeed-ruff" { nativeBuildInputs = [ testEnv ]; } ''
      cd ${testSrc}
      ruff check --no-cache src tests
      ruff format --no-cache --check src tests
      touch $out
    '';
  };
in
{
  inherit
    workspace
    pythonSet
    editableSet
    venv
    app
    verifier
    tests
    ;
}
