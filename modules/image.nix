# Core options every other module contributes to: users, directories, environment, contents,
# and the build-time layout handed to `sealfeed s6 render`.
{
  lib,
  config,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.sealfeed;

  userType = types.submodule {
    options = {
      uid = mkOption { type = types.ints.between 1 65533; };
      group = mkOption { type = types.str; };
      home = mkOption {
        type = types.str;
        default = "/var/empty";
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
    };
  };

  directoryType = types.submodule {
    options = {
      # absolute, no "." / ".." components, no trailing slash: pkgs/image.nix creates it
      # relative to the image root, which must never reach outside it
      path = mkOption {
        type = types.addCheck (types.strMatching "(/[A-Za-z0-9_.@+-]+)+") (
          p: !(lib.elem "." (lib.splitString "/" p)) && !(lib.elem ".." (lib.splitString "/" p))
        );
      };
      owner = mkOption {
        type = types.str;
        default = "root";
      };
      group = mkOption {
        type = types.str;
        default = "root";
      };
      mode = mkOption {
        type = types.strMatching "[0-7]{4}";
        default = "0755";
      };
    };
  };
in
{
  options.sealfeed = {
    version = mkOption {
      type = types.str;
      description = "Appliance version (pyproject.toml); the default image tag.";
    };

    configurationPublicKey = mkOption {
      type = types.strMatching "[A-Za-z0-9+/]+={0,2}";
      description = ''
        Base64 SPKI DER (Ed25519 or secp256k1) of the key the configuration must be signed
        by. Baked into the image as /etc/sealfeed/configuration-public-key (the trust anchor
        /init and the s6 tree use) and the CONFIGURATION_PUBLIC_KEY Env entry, so the image
        digest binds it (ADR 0082).
      '';
    };

    assertions = mkOption {
      type = types.listOf (
        types.submodule {
          options.assertion = mkOption { type = types.bool; };
          options.message = mkOption { type = types.str; };
        }
      );
      default = [ ];
      internal = true;
    };

    image = {
      name = mkOption {
        type = types.str;
        default = "sealfeed";
      };
      tag = mkOption {
        type = types.str;
        default = cfg.version;
        description = "Always explicit: a null tag would be the derivation hash.";
      };
      created = mkOption {
        type = types.str;
        # dockerTools' default; "now" would make every build's config digest differ.
        default = "1970-01-01T00:00:01Z";
      };
      maxLayers = mkOption {
        type = types.ints.between 2 125;
        # dockerTools' default, set explicitly: the layer split (and so every layer digest)
        # depends on it, so a change of nixpkgs' default must not move the image digest.
        # The upper bound is Docker's practical limit on layers per image.
        default = 100;
        description = "Layers of the image: the most popular store paths get one each, the rest share the last.";
      };
      contents = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      users = mkOption {
        type = types.attrsOf userType;
        default = { };
      };
      groups = mkOption {
        type = types.attrsOf (types.ints.between 1 65533);
        default = { };
      };
      directories = mkOption {
        type = types.listOf directoryType;
        default = [ ];
      };
      env = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Image Env; rendered sorted by name, so its order is stable.";
      };
      exposedPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
        description = "Everything binds 127.0.0.1 by default; nothing is exposed unless listed.";
      };
      layout = mkOption {
        type = types.attrsOf types.anything;
        default = { };
        description = "What the image provisions (nodes, ports, users, dirs): /etc/sealfeed/layout.json.";
      };
      s6BuildConfig = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = ''
          A signed configuration known at build time: the s6-rc tree is then rendered into
          /etc/s6-overlay at build time and covered by the image digest. null (default): /init
          renders it at boot from the configuration it has just verified (ADR 0085).
        '';
      };
      s6RenderArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Extra arguments for the build-time `sealfeed s6 render`.";
      };
    };
  };

  config.sealfeed = {
    # s6 tools on PATH for the rendered service scripts (s6-setuidgid, s6-log, s6-svwait, ...);
    # /init itself uses store paths (pkgs/init).
    image.contents = with pkgs; [
      s6
      s6-rc
      execline
      s6-portable-utils
      coreutils
    ];

    image.users.sealfeed = {
      uid = 900;
      group = "sealfeed";
      description = "sealfeed services (aggregator, exporter)";
    };
    image.groups.sealfeed = 900;
    # s6-log consumers run as their own user (s6 component: LOG_USER in sealfeed.s6.graph)
    image.users.sealfeed-log = {
      uid = 901;
      group = "sealfeed-log";
      description = "s6-log consumers";
    };
    image.groups.sealfeed-log = 901;
    # the attested link, the one component other machines connect to, runs as its own
    # account: it starts as root, forks its quote helper (configfs-tsm is root's) and drops
    # to this one (sealfeed link serve --user; LINK in sealfeed.s6.graph.SERVICE_USERS, ADR 0145)
    image.users.sealfeed-link = {
      uid = 902;
      group = "sealfeed-link";
      description = "the attested link between VMs (sealfeed link serve)";
    };
    image.groups.sealfeed-link = 902;

    image.directories = [
      { path = "/sp"; }
      { path = "/sp/configurations"; }
      {
        path = "/sp/secrets";
        group = "sealfeed";
        mode = "0750";
      }
      { path = "/run"; }
      {
        path = "/tmp";
        mode = "1777";
      }
      # the redacting log pipeline creates one subdirectory per service as root and hands
      # it to sealfeed-log; the root stays traversable for that user
      { path = "/var/log/sealfeed"; }
    ];

    image.env = {
      PATH = "/bin:/usr/bin";
      LANG = "C.UTF-8";
      TZ = "UTC";
      SSL_CERT_FILE = "/etc/ssl/certs/ca-bundle.crt";
      CONFIGURATION_PUBLIC_KEY = cfg.configurationPublicKey;
      CONFIGURATION_PATH = "/sp/configurations/configuration.json";
      SP_SECRETS_DIR = "/sp/secrets";
      # no .pyc written at run time next to read-only store paths
      PYTHONDONTWRITEBYTECODE = "1";
    };

    # /etc/sealfeed/layout.json: what the image was built for. The boot check compares the
    # verified configuration with it (node count and indices, every port, the users) and
    # refuses what the image does not provision. `schema` changes when a key changes meaning.
    image.layout = {
      schema = "sealfeed.image.layout/v1";
      version = cfg.version;
      users = lib.mapAttrs (_: u: { inherit (u) uid group; }) cfg.image.users;
      groups = cfg.image.groups;
      log_dir = "/var/log/sealfeed";
      secrets_dir = "/sp/secrets";
      exposed_ports = cfg.image.exposedPorts;
    };

    assertions =
      let
        uids = lib.mapAttrsToList (_: u: u.uid) cfg.image.users;
        paths = map (d: d.path) cfg.image.directories;
      in
      [
        {
          assertion = lib.length uids == lib.length (lib.unique uids);
          message = "two image users share a uid";
        }
        {
          assertion = lib.length paths == lib.length (lib.unique paths);
          message = "a directory is declared twice in sealfeed.image.directories";
        }
        {
          assertion = lib.all (
            d: (d.owner == "root" || cfg.image.users ? ${d.owner}) && (d.group == "root" || cfg.image.groups ? ${d.group})
          ) cfg.image.directories;
          message = "a directory is owned by an undeclared user or group";
        }
      ];
  };
}
