# Compose the appliance from small modules with lib.evalModules (no NixOS required).
#
#   import ./modules { inherit lib pkgs sealfeedPkgs; modules = [ { sealfeed.nodes.count = 7; } ]; }
#
# returns the evaluated module set; `config.sealfeed` is what pkgs/image.nix builds from.
# Failed `sealfeed.assertions` abort evaluation with every message at once.
{
  lib,
  pkgs,
  sealfeedPkgs,
  modules ? [ ],
}:
let
  evaluated = lib.evalModules {
    specialArgs = { inherit pkgs sealfeedPkgs; };
    modules = [
      ./image.nix
      ./postgres.nix
      ./chainlink-nodes.nix
      ./aggregator.nix
      ./exporter.nix
      ./monitoring.nix
    ] ++ modules;
  };
  failed = builtins.filter (a: !a.assertion) evaluated.config.sealfeed.assertions;
in
if failed == [ ] then
  evaluated
else
  throw "sealfeed appliance modules:\n${lib.concatMapStringsSep "\n" (a: "- ${a.message}") failed}"
