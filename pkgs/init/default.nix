# /init for the appliance: a small PID 1 written here instead of packaging s6-overlay v3
# (ADR 0080). It keeps s6-overlay's *locations* -- a baked tree at /etc/s6-overlay/s6-rc.d,
# /run/s6/basedir/bin/halt, the container exit code in
# /run/s6-linux-init-container-results/exitcode -- while every binary comes from nixpkgs (s6,
# s6-rc, execline, s6-portable-utils). The tree is self-contained (no s6-overlay `base`
# bundle, ADR 0100); /init refuses a configuration the image's layout.json does not provision
# (ADR 0101). tests/s6/test_image_boot.py boots these very scripts, substituted the same way,
# under the real s6-svscan/s6-rc-init/s6-rc built from source.
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
  # /init's own tools by store path first (nixpkgs' s6 suite, never another one), then the
  # image's /bin for what the rendered services run by name: postgres, pg_isready, chainlink
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
        --subst-var-by path "$out/bin:${path}:/bin:/usr/bin" \
        --subst-var-by run /run \
        --subst-var-by treeroot /etc/s6-overlay \
        --subst-var-by pubkey /etc/sealfeed/configuration-public-key \
        --subst-var-by layout /etc/sealfeed/layout.json \
        --subst-var-by inputs /sp/inputs
    done
    chmod 0555 $out/bin/sealfeed-init $out/bin/sealfeed-halt
  ''
