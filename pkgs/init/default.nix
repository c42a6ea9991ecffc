# /init for the appliance: a small PID 1 written here instead of packaging s6-overlay v3
# (ADR 0080). It keeps s6-overlay's *interfaces* -- the s6-rc source tree at
# /etc/s6-overlay/s6-rc.d with a `user` bundle, /run/s6/basedir/bin/halt, and the container
# exit code in /run/s6-linux-init-container-results/exitcode -- so the tree `sealfeed s6
# render` writes runs unchanged, while every binary comes from nixpkgs (s6, s6-rc, execline,
# s6-portable-utils).
{
  lib,
  runCommand,
  bash,
  coreutils,
  s6,
  s6-rc,
  execline,
  s6-portable-utils,
  sealfeed,
}:
let
  path = lib.makeBinPath [
    s6
    s6-rc
    execline
    s6-portable-utils
    coreutils
    sealfeed
  ];
in
runCommand "sealfeed-init"
  {
    passthru = { inherit path; };
    meta.description = "PID 1 for the sealfeed appliance: verify config, then s6-svscan + s6-rc";
  }
  ''
    mkdir -p $out/bin
    for f in init halt; do
      substitute ${./.}/$f.sh $out/bin/sealfeed-$f \
        --subst-var-by shell ${bash}/bin/sh \
        --subst-var-by path "$out/bin:${path}" \
        --subst-var-by run /run \
        --subst-var-by treeroot /etc/s6-overlay \
        --subst-var-by pubkey /etc/sealfeed/configuration-public-key
    done
    chmod 0555 $out/bin/sealfeed-init $out/bin/sealfeed-halt
  ''
