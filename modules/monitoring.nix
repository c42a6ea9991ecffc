# Push-only monitoring: labels every pushed series carries. Targets and credentials come from
# the signed configuration and /sp/secrets at run time, never from the image.
{ lib, config, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed.monitoring;
in
{
  options.sealfeed.monitoring = {
    instance = mkOption {
      type = types.strMatching "[A-Za-z0-9_.:-]+";
      default = "sealfeed";
    };
    environment = mkOption {
      type = types.strMatching "[A-Za-z0-9_.:-]+";
      default = "production";
    };
  };

  config.sealfeed.image.layout.monitoring = {
    inherit (cfg) instance environment;
  };
}
