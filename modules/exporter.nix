# The process-metrics exporter (`sealfeed exporter serve`), runs as user sealfeed.
{ lib, config, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed.exporter;
in
{
  options.sealfeed.exporter = {
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
      default = 3003;
    };
    intervalMs = mkOption {
      type = types.ints.between 100 3600000;
      default = 5000; # design §10.4 PROCESS_METRICS_INTERVAL_MS
    };
  };

  config.sealfeed = lib.mkIf cfg.enable {
    image.layout.exporter = {
      inherit (cfg) host port;
      interval_ms = cfg.intervalMs;
      user = "sealfeed";
    };
  };
}
