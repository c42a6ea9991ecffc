# Chainlink bootstrap + oracle nodes. Options mirror `nodes` of the configuration
# (sealfeed.config.model.NodesConfig): node N listens on API apiBasePort+N and P2P
# p2pBasePort+N, runs as its own user chainlink-N in /chainlink/node-N.
{
  lib,
  config,
  sealfeedPkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed.nodes;
  indices = lib.range 1 cfg.count;
  spec = i: {
    index = i;
    role = if lib.elem i cfg.bootstrap then "bootstrap" else "oracle";
    api_port = cfg.apiBasePort + i;
    p2p_port = cfg.p2pBasePort + i;
    os_user = "${cfg.osUserPrefix}-${toString i}";
    uid = cfg.baseUid + i;
    workdir = "${cfg.workdirRoot}/node-${toString i}";
    database = "${cfg.databasePrefix}_${toString i}";
  };
in
{
  options.sealfeed.nodes = {
    package = mkOption {
      type = types.package;
      default = sealfeedPkgs.chainlink;
    };
    count = mkOption {
      type = types.ints.between 1 64;
      # issue 8 renders and tests trees of 1, 5 and 16 nodes; 16 slots cost 16 passwd lines
      # and 16 empty directories
      default = 16;
      description = ''
        Nodes the image provisions (users chainlink-1..N, /chainlink/node-N, ports in the
        layout). The signed configuration's `nodes.total` must not exceed it (ADR 0085).
      '';
    };
    bootstrap = mkOption {
      type = types.listOf types.ints.positive;
      default = [ 1 ];
    };
    apiBasePort = mkOption {
      type = types.port;
      default = 6600;
    };
    p2pBasePort = mkOption {
      type = types.port;
      default = 9900;
    };
    workdirRoot = mkOption {
      type = types.str;
      default = "/chainlink";
    };
    osUserPrefix = mkOption {
      type = types.strMatching "[a-z_][a-z0-9_-]*";
      default = "chainlink";
    };
    databasePrefix = mkOption {
      type = types.strMatching "[a-z_][a-z0-9_]*";
      default = "chainlink_node";
    };
    baseUid = mkOption {
      type = types.ints.between 1000 60000;
      default = 1000;
    };
    specs = mkOption {
      type = types.listOf (types.attrsOf types.anything);
      readOnly = true;
      description = "Per-node layout derived from the options above.";
    };
  };

  config.sealfeed = {
    nodes.specs = map spec indices;
    image.contents = [ cfg.package ];
    image.groups.${cfg.osUserPrefix} = cfg.baseUid;
    # `chainlink` owns nothing per node; it is the group's namesake and the user for one-off
    # tooling (`chainlink admin ...` against a node's API); nodes run as chainlink-N.
    image.users = {
      ${cfg.osUserPrefix} = {
        uid = cfg.baseUid;
        group = cfg.osUserPrefix;
        home = cfg.workdirRoot;
        description = "Chainlink tooling";
      };
    }
    // lib.listToAttrs (
      map (
        s:
        lib.nameValuePair s.os_user {
          inherit (s) uid;
          group = cfg.osUserPrefix;
          home = s.workdir;
          description = "Chainlink node ${toString s.index} (${s.role})";
        }
      ) cfg.specs
    );
    image.directories = [ { path = cfg.workdirRoot; } ] ++ map (s: {
      path = s.workdir;
      owner = s.os_user;
      group = cfg.osUserPrefix;
      mode = "0700";
    }) cfg.specs;
    # the keys mirror sealfeed.config.model.NodesConfig, so the boot check compares like with
    # like: a configuration may use node indices 1..total at these ports, users and dirs
    image.layout.nodes = {
      total = cfg.count;
      inherit (cfg) bootstrap;
      api_base_port = cfg.apiBasePort;
      p2p_base_port = cfg.p2pBasePort;
      os_user_prefix = cfg.osUserPrefix;
      workdir_root = cfg.workdirRoot;
      database_prefix = cfg.databasePrefix;
      specs = cfg.specs;
    };
    assertions = [
      {
        assertion = lib.all (b: b <= cfg.count) cfg.bootstrap && cfg.bootstrap != [ ];
        message = "sealfeed.nodes.bootstrap must name existing nodes (1..${toString cfg.count})";
      }
      {
        assertion = cfg.apiBasePort + cfg.count <= 65535 && cfg.p2pBasePort + cfg.count <= 65535;
        message = "node ports overflow 65535";
      }
      {
        assertion =
          cfg.apiBasePort + cfg.count < cfg.p2pBasePort || cfg.p2pBasePort + cfg.count < cfg.apiBasePort;
        message = "node API and P2P port ranges overlap";
      }
    ];
  };
}
