# Evaluate modules/ and pkgs/image.nix with a real nixpkgs `lib` and stand-in packages, so the
# module wiring, the assertions and the image arguments can be checked without nixpkgs'
# package set (tests/test_nix_parse.py; needs only `nix-instantiate` and a nixpkgs lib tree).
#
#   nix-instantiate --eval --strict --json tests/image/nix/eval-appliance.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --argstr modulesJSON '[{"sealfeed":{"nodes":{"count":7}}}]'
{
  lib,
  modulesJSON ? "[]",
}:
let
  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  pkgs = lib.genAttrs [
    "postgresql_17"
    "s6"
    "s6-rc"
    "execline"
    "s6-portable-utils"
    "coreutils"
  ] fakeDrv;
  sealfeedPkgs = {
    sealfeed = fakeDrv "sealfeed";
    chainlink = fakeDrv "chainlink";
    init = fakeDrv "sealfeed-init";
  };
  appliance = import ../../../modules {
    inherit lib pkgs sealfeedPkgs;
    modules = [
      {
        sealfeed.version = "0.1.0";
        sealfeed.configurationPublicKey = lib.mkDefault (
          lib.removeSuffix "\n" (builtins.readFile ../../../modules/keys/configuration-public-key.b64)
        );
      }
    ] ++ builtins.fromJSON modulesJSON;
  };
  # Stand-ins that return their arguments, so the image's inputs can be inspected.
  dockerTools = {
    buildLayeredImage = args: args // { overrideAttrs = f: args // f args; };
    fakeNss = {
      override = args: (fakeDrv "fake-nss") // { fakeNss = args; };
    };
    caCertificates = fakeDrv "ca-certificates";
    binSh = fakeDrv "bin-sh";
    usrBinEnv = fakeDrv "usr-bin-env";
  };
  image = import ../../../pkgs/image.nix {
    inherit lib dockerTools sealfeedPkgs;
    appliance = appliance.config.sealfeed;
    runCommand = name: env: script: (fakeDrv name) // { inherit env script; };
    writeText = name: text: (fakeDrv name) // { inherit text; };
  };
in
{
  inherit (image)
    name
    tag
    created
    maxLayers
    config
    fakeRootCommands
    ;
  enableFakechroot = image.enableFakechroot or false;
  contents = map (p: p.name) image.contents;
  nss = (builtins.elemAt image.contents 0).fakeNss;
  layout = builtins.fromJSON image.passthru.layoutFile.text;
  keyFile = image.passthru.keyFile.text;
  s6Render = if image.passthru.s6Tree == null then null else image.passthru.s6Tree.script;
}
