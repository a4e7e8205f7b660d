"""The tfjs format, read and written by Python: manifests and shards (artifacts), graph topology,
the format's constants, and tfjs' weight quantization math. Imports nothing above errors/infra."""
