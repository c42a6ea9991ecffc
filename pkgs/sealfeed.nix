# The sealfeed Python application built with uv2nix from uv.lock (ADR 0001).
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
}:
let
  inherit (pkgs) lib;

  workspace = uv2nix.lib.workspace.loadWorkspace { inherit workspaceRoot; };

  # Wheels from uv.lock (hash-pinned there); sdists only where no wheel exists.
  overlay = workspace.mkPyprojectOverlay { sourcePreference = "wheel"; };

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
        ]
      );

  editableSet = pythonSet.overrideScope editableOverlay;

  util = pkgs.callPackages pyproject-nix.build.util { };

  # Not workspace.deps.default: uv2nix honours `[tool.uv] default-groups = ["dev"]`, so that
  # evaluates to { sealfeed = [ "dev" ]; } and would ship pytest, mypy and ruff in the image
  # (checked by evaluating uv2nix's loadWorkspace against this uv.lock). The app takes the
  # project's runtime dependencies only.
  venv = pythonSet.mkVirtualEnv "sealfeed-env" { sealfeed = [ ]; };

  app = util.mkApplication {
    inherit venv;
    package = pythonSet.sealfeed;
  };

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

  testSrc = lib.fileset.toSource {
    root = workspaceRoot;
    # tests/test_nix_parse.py reads the Nix files; the image tests read the fixture measurement
    fileset = lib.fileset.unions [
      (workspaceRoot + "/pyproject.toml")
      (workspaceRoot + "/src")
      (workspaceRoot + "/tests")
      (workspaceRoot + "/flake.nix")
      (workspaceRoot + "/flake.lock")
      (workspaceRoot + "/pkgs")
      (workspaceRoot + "/modules")
      (workspaceRoot + "/attest/measurements")
    ];
  };

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
