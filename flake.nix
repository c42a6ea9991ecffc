# sealfeed flake: builds the attested appliance image and the verifier.
# The full image build lands with the Nix issue; this stub keeps the top level fixed and parsing.
{
  description = "sealfeed: attested multi-node Chainlink Data Feeds appliance";

  inputs = { };

  outputs = { self }: { };
}
