# Evaluate flake.nix's outputs with a real nixpkgs `lib` and stand-ins for the package set and
# the pyproject-nix/uv2nix inputs: checks the wiring (attribute names, callPackage arguments of
# every file under pkgs/, which outputs exist) without nixpkgs' packages or a network.
# Stand-in derivations record their arguments so tests can inspect them.
{ lib }:
let
  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  callWith =
    scope: fn: overrides:
    let
      f = if builtins.isFunction fn then fn else import fn;
      args = builtins.functionArgs f;
    in
    f (builtins.intersectAttrs args scope // overrides);

  pythonSet = {
    mkVirtualEnv = name: deps: fakeDrv name // { inherit deps; };
    sealfeed = fakeDrv "sealfeed-0.1.0" // {
      pname = "sealfeed";
      version = "0.1.0";
    };
    overrideScope = _: pythonSet;
    python = fakeDrv "python3" // {
      interpreter = "/nix/store/00000000000000000000000000000000-python3/bin/python3";
    };
  };

  pkgs = lib.fix (
    self:
    lib.genAttrs [
      "postgresql_17"
      "s6"
      "s6-rc"
      "execline"
      "s6-portable-utils"
      "coreutils"
      "bash"
      "uv"
      "nixfmt"
      "nix"
      "python312"
      "cacert"
    ] fakeDrv
    // {
      inherit lib;
      path = /nonexistent-nixpkgs;
      stdenv = {
        hostPlatform.isx86_64 = true;
      };
      callPackage = callWith self;
      callPackages = callWith self;
      runCommand = name: env: script: fakeDrv name // { inherit env script; };
      writeText = name: text: fakeDrv name // { inherit text; };
      writeShellApplication = args: fakeDrv args.name // { inherit args; };
      mkShell = args: fakeDrv "shell" // { inherit args; };
      fetchFromGitHub = args: fakeDrv "source" // args;
      fetchurl = args: fakeDrv "download" // args;
      buildGoModule = args: fakeDrv "${args.pname}-${args.version}" // { inherit args; };
      dockerTools = {
        buildLayeredImage = args: fakeDrv "${args.name}.tar.gz" // { inherit args; };
        fakeNss.override = args: fakeDrv "fake-nss" // { inherit args; };
        caCertificates = fakeDrv "ca-certificates";
        binSh = fakeDrv "bin-sh";
        usrBinEnv = fakeDrv "usr-bin-env";
      };
    }
  );

  inputs = {
    nixpkgs = {
      inherit lib;
      legacyPackages.x86_64-linux = pkgs;
    };
    pyproject-nix.build = {
      packages = { python, ... }: { overrideScope = _: pythonSet; };
      util = _: {
        mkApplication = { venv, package }: fakeDrv "sealfeed-app" // { inherit venv package; };
      };
    };
    uv2nix.lib.workspace.loadWorkspace =
      { workspaceRoot }:
      {
        mkPyprojectOverlay = { sourcePreference }: _final: _prev: { };
        mkEditablePyprojectOverlay = { root }: _final: _prev: { };
        deps = {
          default.sealfeed = [ "dev" ];
          all.sealfeed = [ "dev" ];
        };
      };
    pyproject-build-systems.overlays.wheel = _final: _prev: { };
  };

  flake = import ../../../flake.nix;
  outputs = flake.outputs (inputs // { self = outputs; });
  sys = "x86_64-linux";
  image = outputs.packages.${sys}.image;
in
{
  inputs = builtins.attrNames flake.inputs;
  follows = lib.mapAttrs (_: i: i.inputs or { }) flake.inputs;
  packages = builtins.attrNames outputs.packages.${sys};
  checks = builtins.attrNames outputs.checks.${sys};
  apps = lib.mapAttrs (_: a: a.program) outputs.apps.${sys};
  devShellPackages = map (p: p.name) outputs.devShells.${sys}.default.args.packages;
  devShellEnv = outputs.devShells.${sys}.default.args.env;
  appVenvDeps = outputs.packages.${sys}.sealfeed.venv.deps;
  imageName = image.name;
  imageTag = image.args.tag;
  imageContents = map (p: p.name) image.args.contents;
  chainlink = {
    inherit (outputs.packages.${sys}.chainlink.args) pname version ldflags proxyVendor subPackages;
    src = outputs.packages.${sys}.chainlink.args.src.rev;
  };
  modulesEval = outputs.checks.${sys}.modules-eval.text;
  initScript = (builtins.elemAt image.args.contents 5).script;
}
