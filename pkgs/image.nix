# The appliance image: dockerTools.buildLayeredImage over the evaluated modules.
#
# Determinism (docs/reproducibility.md): fixed `created`, explicit tag, Env sorted by name,
# every file from the Nix store (mtime 1, uid/gid 0 in store layers), explicit `maxLayers`,
# ownership of the few writable directories set by fakeRootCommands under fakeroot with paths
# relative to the customisation layer (no fakechroot/proot, ADR 0107), and the final tarball
# compressed by dockerTools with `pigz -nTR` (no name, no timestamp). The image workflow
# builds it on two independent runners and compares the bytes (ADR 0106).
{
  lib,
  dockerTools,
  runCommand,
  writeText,
  sealfeedPkgs,
  appliance,
}:
let
  cfg = appliance;
  img = cfg.image;

  layoutFile = writeText "sealfeed-layout.json" (builtins.toJSON img.layout);

  keyFile = writeText "configuration-public-key" (cfg.configurationPublicKey + "\n");

  # Optional: the s6-rc source tree baked in at build time from a signed configuration known
  # at build time (then the exact service set is part of the image digest). Without it,
  # /init renders the tree at boot from the configuration it has just verified (ADR 0085).
  s6Tree =
    if img.s6BuildConfig == null then
      null
    else
      runCommand "sealfeed-s6-rc-tree"
        {
          nativeBuildInputs = [ sealfeedPkgs.sealfeed ];
          # sealfeed writes no timestamps; pinning the epoch covers any library that would.
          SOURCE_DATE_EPOCH = "1";
        }
        ''
          mkdir -p $out/etc
          sealfeed s6 render ${lib.escapeShellArgs img.s6RenderArgs} \
            --config ${img.s6BuildConfig} --pubkey ${keyFile} --mode image \
            --layout ${layoutFile} \
            --out $out/etc/s6-overlay --tree-root /etc/s6-overlay
          sealfeed s6 check $out/etc/s6-overlay
        '';

  passwdLines = lib.mapAttrsToList (
    name: u:
    "${name}:x:${toString u.uid}:${toString img.groups.${u.group}}:${u.description}:${u.home}:/bin/false"
  ) img.users;
  groupLines = lib.mapAttrsToList (name: gid: "${name}:x:${toString gid}:") img.groups;

  # fakeNss supplies root and nobody; our users are appended in sorted (attrset) order.
  nss = dockerTools.fakeNss.override {
    extraPasswdLines = passwdLines;
    extraGroupLines = groupLines;
  };

  # /etc/sealfeed/configuration-public-key is the trust anchor /init and every service use
  # (the s6 tree passes --pubkey with this path); the Env copy is for compatibility only.
  rootfs = runCommand "sealfeed-rootfs" { } ''
    mkdir -p $out/etc/sealfeed
    cp ${layoutFile} $out/etc/sealfeed/layout.json
    cp ${keyFile} $out/etc/sealfeed/configuration-public-key
    ln -s ${sealfeedPkgs.init}/bin/sealfeed-init $out/init
  '';

  uidOf = name: if name == "root" then "0" else toString img.users.${name}.uid;
  gidOf = name: if name == "root" then "0" else toString img.groups.${name};

  # Sorted by path: parents before children, and independent of module order. fakeRootCommands
  # run with the customisation layer as the working directory, so every path is relative
  # ("./sp/secrets" for /sp/secrets); the modules reject "." and ".." components, so nothing
  # can point outside the layer.
  mkDirs = lib.concatMapStrings (
    d:
    let
      rel = lib.escapeShellArg ".${d.path}";
    in
    ''
      mkdir -p ${rel}
      chown ${uidOf d.owner}:${gidOf d.group} ${rel}
      chmod ${d.mode} ${rel}
    ''
  ) (lib.sort (a: b: a.path < b.path) img.directories);

  image = dockerTools.buildLayeredImage {
    inherit (img)
      name
      tag
      created
      maxLayers
      ;

    contents = [
      nss
      dockerTools.caCertificates
      dockerTools.binSh
      dockerTools.usrBinEnv
      sealfeedPkgs.sealfeed
      sealfeedPkgs.init
      rootfs
    ]
    ++ lib.optional (s6Tree != null) s6Tree
    ++ img.contents;

    # Runs under fakeroot in the customisation layer: ownership without a real root.
    fakeRootCommands = mkDirs;

    config = {
      Entrypoint = [ "/init" ];
      Env = lib.mapAttrsToList (name: value: "${name}=${value}") img.env;
      # PID 1 (s6-svscan) needs root to start each service under its own user with
      # s6-setuidgid; no service runs as root (the s6 tree drops privileges).
      User = "0:0";
      WorkingDir = "/";
      StopSignal = "SIGTERM";
      Labels = {
        "org.opencontainers.image.title" = "sealfeed";
        "org.opencontainers.image.version" = cfg.version;
      };
    }
    // lib.optionalAttrs (img.exposedPorts != [ ]) {
      ExposedPorts = lib.listToAttrs (
        map (p: lib.nameValuePair "${toString p}/tcp" { }) img.exposedPorts
      );
    };
  };
in
# passthru only (the derivation is unchanged): the pieces the image workflow `nix build --check`s
# (.#image.rootfs, .#image.init) and the files tests inspect. buildLayeredImage does not forward
# its own `passthru` argument to the compressed archive, hence overrideAttrs.
image.overrideAttrs (old: {
  passthru = (old.passthru or { }) // {
    inherit
      layoutFile
      keyFile
      s6Tree
      rootfs
      ;
    inherit (sealfeedPkgs) init;
  };
})
