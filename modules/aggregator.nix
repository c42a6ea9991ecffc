# The price aggregator (`sealfeed aggregator serve`), runs as user sealfeed.
{ lib, config, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed.aggregator;
in
{
  options.sealfeed.aggregator = {
    enable = mkOption {
      type = types.bool;
      default = true;
    };
    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
    };
    port = mkOption {
      type = types.port;
      default = 3000;
    };
  };

  config.sealfeed = lib.mkIf cfg.enable {
    image.layout.aggregator = {
      inherit (cfg) host port;
      user = "sealfeed";
    };
    assertions = [
      {
        assertion = cfg.port != config.sealfeed.exporter.port;
        message = "aggregator and exporter ports collide";
      }
    ];
  };
}
