# sealfeed flake: the attested appliance image, the Python application and the verifier.
#
# Shape follows the uv2nix hello-world template (style-anchors.md §5): four inputs, the last
# three following nixpkgs; one workspace overlay (wheels preferred) over the build-system
# overlay; mkApplication for what ships; an editable dev shell. The image is composed from
# small modules (./modules) with lib.evalModules and built by ./pkgs/image.nix with
# dockerTools.buildLayeredImage (fixed `created`, explicit tag, deterministic gzip).
#
# Reproducibility: docs/reproducibility.md. Lock file provenance: docs/adr/0081.
{
  description = "sealfeed: attested multi-node Chainlink Data Feeds appliance";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

    pyproject-nix = {
      url = "github:pyproject-nix/pyproject.nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    uv2nix = {
      url = "github:pyproject-nix/uv2nix";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    pyproject-build-systems = {
      url = "github:pyproject-nix/build-system-pkgs";
      inputs.pyproject-nix.follows = "pyproject-nix";
      inputs.uv2nix.follows = "uv2nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      pyproject-nix,
      uv2nix,
      pyproject-build-systems,
      ...
    }:
    let
      inherit (nixpkgs) lib;

      # The appliance runs in Intel TDX confidential VMs: x86_64-linux only.
      systems = [ "x86_64-linux" ];
      forAllSystems = lib.genAttrs systems;

      version = (lib.importTOML ./pyproject.toml).project.version;

      # The configuration public key is a build parameter: its bytes are part of the source,
      # so the image digest (and the golden measurement) binds the key (ADR 0082).
      defaultPublicKey = lib.removeSuffix "\n" (builtins.readFile ./modules/keys/configuration-public-key.b64);

      # Filtered sources (ADR 0105): the image depends on pyproject.toml, README.md and
      # src/sealfeed (plus pkgs/init, its own directory), never on docs/, tests/, .github/ or
      # attest/measurements/, so a committed golden measurement matches its own commit.
      sources = import ./pkgs/sources.nix {
        inherit lib;
        root = ./.;
      };

      pythonFor =
        system:
        import ./pkgs/sealfeed.nix {
          pkgs = nixpkgs.legacyPackages.${system};
          inherit
            pyproject-nix
            uv2nix
            pyproject-build-systems
            ;
          # read at evaluation only (pyproject.toml, uv.lock); never a build input
          workspaceRoot = ./.;
          src = sources.sealfeed;
          testSrc = sources.tests;
        };

      # lib.mkAppliance: evaluate the modules and build the image. Operators with their own
      # key or node count call this from a two-line flake of their own:
      #   sealfeed.lib.mkAppliance { system = "x86_64-linux"; modules = [ { sealfeed.nodes.count = 7; } ]; }
      mkAppliance =
        {
          system,
          modules ? [ ],
          configurationPublicKey ? defaultPublicKey,
        }:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          python = pythonFor system;
          sealfeedPkgs = {
            sealfeed = python.app;
            chainlink = pkgs.callPackage ./pkgs/chainlink { };
            init = pkgs.callPackage ./pkgs/init { sealfeed = python.app; };
          };
          appliance = import ./modules {
            inherit lib pkgs sealfeedPkgs;
            modules = modules ++ [
              {
                sealfeed.version = version;
                sealfeed.configurationPublicKey = lib.mkDefault configurationPublicKey;
              }
            ];
          };
        in
        {
          inherit (appliance) config;
          image = pkgs.callPackage ./pkgs/image.nix {
            inherit sealfeedPkgs;
            appliance = appliance.config.sealfeed;
          };
        };
    in
    {
      lib = {
        inherit mkAppliance;
        evalAppliance = args: import ./modules args;
        # the files each filtered source keeps (docs/reproducibility.md lists them)
        sourceIncludes = sources.include;
      };

      packages = forAllSystems (
        system:
        let
          python = pythonFor system;
          appliance = mkAppliance { inherit system; };
        in
        {
          sealfeed = python.app;
          verifier = python.verifier;
          chainlink = nixpkgs.legacyPackages.${system}.callPackage ./pkgs/chainlink { };
          image = appliance.image;
          default = python.app;
        }
      );

      apps = forAllSystems (system: {
        verify = {
          type = "app";
          program = "${self.packages.${system}.verifier}/bin/sealfeed-verify";
          meta.description = "sealfeed verify: image measurement + signed config + TDX quote";
        };
        default = self.apps.${system}.verify;
      });

      checks = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          python = pythonFor system;
        in
        {
          # pytest on the built package (pyproject-nix testing pattern: passthru.tests)
          inherit (python.tests) pytest;
          # ruff lint + format check over the same sources
          inherit (python.tests) ruff;
          # the modules evaluate with the defaults, the smallest and the largest node count
          modules-eval = pkgs.writeText "sealfeed-modules-eval.json" (
            builtins.toJSON (
              map
                (
                  count:
                  (mkAppliance {
                    inherit system;
                    modules = [ { sealfeed.nodes.count = count; } ];
                  }).config.sealfeed.image.layout
                )
                [
                  1
                  16
                  64
                ]
            )
          );
          # Reproducibility is two independent builds compared byte for byte plus
          # `nix build --check` of our derivations (.github/workflows/image.yml,
          # docs/reproducibility.md); a check derivation cannot build itself twice.
        }
      );

      devShells = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          python = pythonFor system;
          virtualenv = python.editableSet.mkVirtualEnv "sealfeed-dev-env" python.workspace.deps.all;
        in
        {
          default = pkgs.mkShell {
            packages = [
              virtualenv
              pkgs.uv
              pkgs.s6
              pkgs.execline
              pkgs.postgresql_17
              pkgs.nixfmt
            ];
            env = {
              UV_NO_SYNC = "1";
              UV_PYTHON = python.pythonSet.python.interpreter;
              UV_PYTHON_DOWNLOADS = "never";
            };
            shellHook = ''
              unset PYTHONPATH
              export REPO_ROOT=$(git rev-parse --show-toplevel)
            '';
          };
        }
      );

      formatter = forAllSystems (system: nixpkgs.legacyPackages.${system}.nixfmt);
    };
}
