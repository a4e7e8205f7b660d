"""The tfjs format, read and written by Python: manifests and shards (artifacts), graph topology,
the format's constants, and tfjs' weight quantization math. Imports nothing above errors/infra."""

# A tfjs artifact's manifest file (tensorflowjs: common.ARTIFACT_MODEL_JSON_FILE_NAME). Here, not in a
# module that imports numpy: the lightest modules (workspace.py) name it too.
MODEL_JSON = "model.json"
