"""TF Serving's gRPC API next to the REST one, on tensorflow-serving-api's own protos.

Implements what TF Serving clients call most:

- `tensorflow.serving.PredictionService/Predict` (`PredictRequest`: `model_spec.name`,
  `signature_name`, `version` or `version_label`; `inputs` as TensorProtos, e.g. from
  `tf.make_tensor_proto`; `output_filter`),
- `tensorflow.serving.PredictionService/GetModelMetadata` (`metadata_field: "signature_def"`:
  a `SignatureDefMap` packed in an `Any`),
- `tensorflow.serving.ModelService/GetModelStatus`.

Classify, Regress, MultiInference and HandleReloadConfigRequest answer UNIMPLEMENTED (the
generated servicers' default). Requests share the REST server's thread pool, admission and
limits (`limits.Limits`): messages over `max_body_bytes` are refused by gRPC itself
(RESOURCE_EXHAUSTED), tensors are checked for dtype, shape, batch size and image pixels
before anything runs. Errors map to gRPC codes as TF Serving's do: INVALID_ARGUMENT for a
bad request or a refused limit, NOT_FOUND for an unknown model, version or label,
UNAVAILABLE when the server is full (TF Serving's answer to a full batching queue),
DEADLINE_EXCEEDED after `request_timeout_seconds` (or the client's own deadline),
UNIMPLEMENTED for other methods, INTERNAL otherwise.
"""

import concurrent.futures
import errno

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from aign_tf.serving import limits as limits_lib
from aign_tf.serving import protocol

_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
          405: grpc.StatusCode.UNIMPLEMENTED, 501: grpc.StatusCode.UNIMPLEMENTED,
          408: grpc.StatusCode.DEADLINE_EXCEEDED, 504: grpc.StatusCode.DEADLINE_EXCEEDED,
          413: grpc.StatusCode.RESOURCE_EXHAUSTED, 431: grpc.StatusCode.RESOURCE_EXHAUSTED,
          503: grpc.StatusCode.UNAVAILABLE}
_STATES = {"AVAILABLE": get_model_status_pb2.ModelVersionStatus.AVAILABLE,
           "END": get_model_status_pb2.ModelVersionStatus.END}
_ERROR_CODES = {"OK": 0, "UNKNOWN": 2}


def start(server, host, port):
  """Starts gRPC for a `server.ModelServer` on `host:port` (0 picks a free port).

  Returns:
    (the started `grpc.Server`, its port).

  Raises:
    OSError: the port cannot be bound.
  """
  limits = server.limits
  slots = limits.num_request_threads + limits.max_queued_requests
  grpc_server = grpc.server(
      concurrent.futures.ThreadPoolExecutor(max(1, slots), thread_name_prefix="grpc"),
      options=[("grpc.max_receive_message_length", limits.max_body_bytes),
               ("grpc.so_reuseport", 0)],
      maximum_concurrent_rpcs=max(1, slots))
  servicer = _Servicer(server)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, grpc_server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(_ModelServicer(server),
                                                            grpc_server)
  try:
    bound = grpc_server.add_insecure_port(f"{host}:{port}")
  except RuntimeError:
    bound = 0
  if not bound:
    raise OSError(errno.EADDRINUSE, f"cannot bind the gRPC port {port}")
  grpc_server.start()
  return grpc_server, bound


def _model_spec(spec, model, version, signature_name=None):
  spec.name = model.name
  spec.version.value = version.version
  if signature_name is not None:
    spec.signature_name = signature_name


def _run(server, context, fn):
  """Runs `fn()` in the server's thread pool within the limits; aborts the RPC with the
  TF Serving code of any error."""
  if not server.admit():
    context.abort(grpc.StatusCode.UNAVAILABLE, server.overloaded_error().message)
  future = server.submit(_guarded, fn)
  timeout = server.limits.request_timeout_seconds
  remaining = context.time_remaining()
  if remaining is not None:
    timeout = min(timeout, max(0.0, remaining))
  try:
    ok, value = future.result(timeout)
  except concurrent.futures.TimeoutError:
    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, server.timeout_error().message)
  if ok:
    return value
  status, message = value
  server.count(status)
  context.abort(_CODES.get(status, grpc.StatusCode.INTERNAL), message)


def _guarded(fn):
  """(True, result) or (False, (HTTP-like status, one-line message))."""
  from aign_tf.serving import server as server_lib  # pylint: disable=g-import-not-at-top
  try:
    return True, fn()
  except protocol.RequestError as e:
    return False, (e.status, e.message)
  except Exception as e:  # pylint: disable=broad-except
    status, body = server_lib.model_error(e, "gRPC")
    return False, (status, body["error"])


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
  """PredictionService: Predict and GetModelMetadata."""

  def __init__(self, server):
    self.server = server

  def _resolve(self, spec):
    model = self.server.repository.model(spec.name)
    version = spec.version.value if spec.HasField("version") else None
    label = spec.version_label or None
    return model, model.resolve(version, label)

  def Predict(self, request, context):  # pylint: disable=invalid-name
    def predict():
      model, version = self._resolve(request.model_spec)
      signature_name = request.model_spec.signature_name or protocol.DEFAULT_SIGNATURE
      signature = version.signature(signature_name)
      arrays = _arrays(request.inputs, signature.inputs, self.server.limits)
      outputs = self.server.run_signature(model, version, signature, arrays)
      wanted = list(request.output_filter) or sorted(outputs)
      unknown = [n for n in wanted if n not in outputs]
      if unknown:
        raise protocol.RequestError(400, f"output_filter: unknown output {unknown[0][:64]!r} "
                                    f"(the signature has {', '.join(sorted(outputs))})")
      limits_lib.check_response({n: outputs[n] for n in wanted}, self.server.limits, "proto")
      response = predict_pb2.PredictResponse()
      _model_spec(response.model_spec, model, version, signature_name)
      for name in wanted:
        response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
      self.server.count(200)
      del arrays, outputs
      self.server.release_memory(request.ByteSize() + response.ByteSize())
      return response
    return _run(self.server, context, predict)

  def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
    def metadata():
      fields = list(request.metadata_field)
      if fields != ["signature_def"]:
        raise protocol.RequestError(
            400, f"metadata_field must be [\"signature_def\"], got {fields[:4]!r}")
      model, version = self._resolve(request.model_spec)
      signatures = get_model_metadata_pb2.SignatureDefMap()
      for name, proto in version.signature_def_protos.items():
        signatures.signature_def[name].CopyFrom(proto)
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      _model_spec(response.model_spec, model, version)
      response.metadata["signature_def"].Pack(signatures)
      return response
    return _run(self.server, context, metadata)


class _ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
  """ModelService: GetModelStatus."""

  def __init__(self, server):
    self.server = server

  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    def status():
      spec = request.model_spec
      model = self.server.repository.model(spec.name)
      version = spec.version.value if spec.HasField("version") else None
      answer = model.status(version, spec.version_label or None)
      response = get_model_status_pb2.GetModelStatusResponse()
      for entry in answer["model_version_status"]:
        item = response.model_version_status.add()
        item.version = int(entry["version"])
        item.state = _STATES[entry["state"]]
        item.status.error_code = _ERROR_CODES.get(entry["status"]["error_code"], 2)
        item.status.error_message = entry["status"]["error_message"]
      return response
    return _run(self.server, context, status)


def _arrays(tensors, specs, limits):
  """`PredictRequest.inputs` (name -> TensorProto) -> validated NumPy arrays.

  Raises:
    protocol.RequestError: 400 naming the input (missing, unknown, dtype, shape, empty),
      413 for a tensor with more elements than the message limit allows.
  """
  names = ", ".join(repr(n) for n in sorted(specs))
  for name in sorted(tensors):
    if name not in specs:
      raise protocol.RequestError(400, f"unknown input {name[:64]!r} (the signature takes "
                                  f"{names})")
  arrays = {}
  for name, spec in specs.items():
    where = f"input {name!r}"
    if name not in tensors:
      raise protocol.RequestError(400, f"missing input {name!r} (the signature takes {names})")
    proto = tensors[name]
    expected = tf.as_dtype(tf.string if spec.dtype == "string" else spec.dtype)
    if proto.dtype != expected.as_datatype_enum:
      got = (tf.as_dtype(proto.dtype).name if proto.dtype in _KNOWN_DTYPES else
             str(proto.dtype))
      raise protocol.RequestError(400, f"{where}: dtype {got} does not match the "
                                  f"signature's {expected.name}")
    dims = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
      raise protocol.RequestError(400, f"{where}: the tensor shape must be fully known")
    if dims:
      limits_lib.check_batch(dims[0], limits)
    elements = int(np.prod(dims, dtype=np.float64))
    if elements > limits.max_body_bytes:
      raise protocol.RequestError(413, f"{where}: {elements} elements are over the limit "
                                  f"of {limits.max_body_bytes} (max_body_bytes)")
    if elements == 0:
      raise protocol.RequestError(400, f"{where}: empty (shape {dims}): send at least one "
                                  "value")
    try:
      array = tf.make_ndarray(proto)
    except (ValueError, TypeError) as e:
      raise protocol.RequestError(400, f"{where}: malformed tensor ({e})"[:300]) from None
    protocol.check_shape(array, spec, where)
    arrays[name] = array
  return arrays


_KNOWN_DTYPES = {t.as_datatype_enum for t in (
    tf.float16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8,
    tf.uint16, tf.uint32, tf.uint64, tf.bool, tf.string, tf.complex64, tf.complex128,
    tf.bfloat16)}
