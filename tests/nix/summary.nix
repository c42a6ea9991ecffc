# Evaluate every output of the sealfeed flake and summarise it as JSON for tests/nix/.
#
#   nix eval --impure --json --expr 'import tests/nix/summary.nix { flakeRef = "git+file:///tmp/copy"; }'
#
# The flake copy is locked to ../shared/nix-eval (real pyproject-nix / uv2nix /
# build-system-pkgs, real nixpkgs `lib`, stand-in package set), see tests/nix/conftest.py.
# Every derivation reachable from a package, check, app, dev shell and the formatter is forced
# argument by argument (`force`), so an evaluation error anywhere in flake.nix, pkgs/ or
# modules/ fails the evaluation. Store paths of stand-in packages say nothing about sources
# (their hashes cover names only); real source paths (builtins.path, "${./dir}") keep their
# string context, which `sourcesOf` collects.
{ flakeRef }:
let
  flake = builtins.getFlake flakeRef;
  inherit (flake.inputs.nixpkgs) lib;
  sys = "x86_64-linux";

  # attributes of a derivation record that are not arguments of the derivation
  notArgs = [
    "out"
    "all"
    "outputs"
    "overrideAttrs"
    "override"
    "overrideDerivation"
    "passthru"
    "meta"
    "drvPath"
    "outPath"
    "type"
    "drvAttrs"
    "stdenv"
    "pkgs"
    "lib"
  ];
  isDrv = x: builtins.isAttrs x && (x.type or null) == "derivation";

  # Force every argument of a derivation and of the derivations it depends on (bounded: the
  # stand-in records are cyclic through `out`). Errors propagate: nothing is tryEval'd here.
  force =
    depth: x:
    if isDrv x then
      (
        if depth > 8 then
          x.outPath
        else
          {
            inherit (x) name drvPath;
            args = builtins.mapAttrs (_: force (depth + 1)) (removeAttrs x notArgs);
          }
      )
    else if builtins.isAttrs x then
      builtins.mapAttrs (_: force (depth + 1)) x
    else if builtins.isList x then
      map (force (depth + 1)) x
    else if builtins.isFunction x then
      "<function>"
    else
      x;
  forced = x: builtins.seq (builtins.toJSON (force 0 x)) true;

  # Every store path with string context, and every path value, reachable from `x`: the
  # source inputs the derivations would copy. Bounded like `force`; passthru is included so
  # the sealfeed package (behind mkApplication's installPhase string) is reached.
  skipForSources = [
    "out"
    "all"
    "overrideAttrs"
    "override"
    "overrideDerivation"
    "pkgs"
    "lib"
    "stdenv"
    "self"
  ];
  sourcesOf =
    let
      walk =
        depth: x:
        if depth > 10 then
          [ ]
        else if builtins.isString x then
          builtins.attrNames (builtins.getContext x)
        else if builtins.isPath x then
          [ "path:${toString x}" ]
        else if builtins.isList x then
          builtins.concatMap (walk (depth + 1)) x
        else if builtins.isAttrs x then
          builtins.concatMap (n: walk (depth + 1) x.${n}) (
            builtins.filter (n: !(builtins.elem n skipForSources)) (builtins.attrNames x)
          )
        else
          [ ];
    in
    x: lib.unique (lib.sort (a: b: a < b) (walk 0 x));

  packages = flake.packages.${sys};
  image = packages.image;

  appliance =
    modules:
    let
      a = flake.lib.mkAppliance {
        system = sys;
        inherit modules;
      };
    in
    {
      layout = a.config.sealfeed.image.layout;
      config = a.image.args.config;
      users = builtins.length (builtins.attrNames a.config.sealfeed.image.users);
      directories = builtins.length a.config.sealfeed.image.directories;
      forced = forced a.image;
    };

  rejected = modules: !(builtins.tryEval (builtins.toJSON (appliance modules).layout)).success;
in
{
  flakeSource = flake.outPath;
  sourceIncludes = flake.lib.sourceIncludes;

  packages = builtins.mapAttrs (_: p: {
    inherit (p) name drvPath;
    forced = forced p;
  }) packages;
  checks = builtins.mapAttrs (_: c: {
    inherit (c) name drvPath;
    forced = forced c;
  }) flake.checks.${sys};
  apps = builtins.mapAttrs (_: a: { inherit (a) type program; }) flake.apps.${sys};
  devShell =
    let
      shell = flake.devShells.${sys}.default;
    in
    {
      inherit (shell) drvPath;
      forced = forced shell;
      env = shell.args.env;
      packages = map (p: p.name) shell.args.packages;
    };
  formatter = flake.formatter.${sys}.drvPath;

  image = {
    inherit (image.args)
      name
      tag
      created
      maxLayers
      config
      fakeRootCommands
      ;
    enableFakechroot = image.args.enableFakechroot or false;
    contents = map (p: p.name) image.args.contents;
    layout = builtins.fromJSON image.layoutFile.text;
    key = image.keyFile.text;
    rootfsScript = image.rootfs.script;
    initScript = image.init.script;
    nss = (builtins.head image.args.contents).overrideArgs;
    # what `nix build --check` targets in the image workflow
    checkTargets = builtins.mapAttrs (_: d: d.drvPath) {
      inherit (packages) sealfeed chainlink;
      inherit (image) rootfs init;
      venv = packages.sealfeed.venv;
      package = packages.sealfeed.package;
    };
  };

  # the image's source inputs, and what the sealfeed package is built from
  imageSources = sourcesOf image;
  sealfeedSrc = toString packages.sealfeed.package.src;
  venvDeps = lib.splitString ":" packages.sealfeed.venv.NIX_PYPROJECT_DEPS;

  chainlink = {
    inherit (packages.chainlink) pname version ldflags proxyVendor subPackages;
    src = packages.chainlink.src.fod;
    vendorHash = packages.chainlink.vendorHash;
    operatorUi = packages.chainlink.operatorUi.fod;
  };

  # the modules with the smallest, the default and the largest node count
  modules = {
    smallest = appliance [ { sealfeed.nodes.count = 1; } ];
    default = appliance [ ];
    largest = appliance [ { sealfeed.nodes.count = 64; } ];
  };
  rejects = {
    tooManyNodes = rejected [ { sealfeed.nodes.count = 65; } ];
    noNodes = rejected [ { sealfeed.nodes.count = 0; } ];
    escapingDirectory = rejected [ { sealfeed.image.directories = [ { path = "/sp/../etc"; } ]; } ];
  };
  modulesEvalCheck = builtins.fromJSON flake.checks.${sys}.modules-eval.text;
}
