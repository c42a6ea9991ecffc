# PostgreSQL 17 for the Chainlink nodes' databases (one role + database per node, provisioned
# at run time by `sealfeed pg`). Options mirror the `postgres` section of the configuration.
{
  lib,
  config,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed.postgres;
in
{
  options.sealfeed.postgres = {
    package = mkOption {
      type = types.package;
      default = pkgs.postgresql_17;
    };
    uid = mkOption {
      type = types.ints.between 1 65533;
      default = 70;
    };
    port = mkOption {
      type = types.port;
      default = 5432;
    };
    dataDir = mkOption {
      type = types.str;
      default = "/sp/postgresql/data";
    };
    socketDir = mkOption {
      type = types.str;
      default = "/run/postgresql";
    };
  };

  config.sealfeed = {
    image.contents = [ cfg.package ];
    image.users.postgres = {
      inherit (cfg) uid;
      group = "postgres";
      home = cfg.dataDir;
      description = "PostgreSQL server";
    };
    image.groups.postgres = cfg.uid;
    image.directories = [
      { path = "/sp/postgresql"; }
      {
        path = cfg.dataDir;
        owner = "postgres";
        group = "postgres";
        mode = "0700";
      }
      {
        path = cfg.socketDir;
        owner = "postgres";
        group = "postgres";
        mode = "0755";
      }
    ];
    image.env.PGDATA = cfg.dataDir;
    image.layout.postgres = {
      inherit (cfg) port;
      data_dir = cfg.dataDir;
      socket_dir = cfg.socketDir;
      user = "postgres";
    };
  };
}
