"""Export and serving: SavedModels for TF Serving, a local TF-Serving-compatible REST server.

- `export`: rebuilds a trained generator from its operative config and writes
  `export/<name>/<version>/` with the signatures `serving_default`, `serving_bytes` (image
  tasks) and `metadata`; keeps `export/models.config` up to date.
- `model_config`: TF Serving's model-config text format (read and write).
- `protocol`: the REST API's JSON <-> tensor conversions and URL grammar, no TensorFlow.
- `repository`: loads model versions from base paths and picks up new ones.
- `batching`: optional server-side batching of concurrent requests.
- `server`: the HTTP server (`tools/serve.py`); `client`: a REST client (`tools/predict.py`).

Nothing here is imported by `import aign_tf`; a task only provides its export
(`task.export`, an `aign_tf.tasks.export_base.TaskExport` in `aign_tf/tasks/<task>_export.py`).
"""
