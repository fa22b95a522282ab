"""Tests of the gRPC API as a TF Serving client calls it: tensorflow-serving-api's own stubs
(`PredictionServiceStub`, `ModelServiceStub`), `tf.make_tensor_proto` inputs, model_spec
name / signature_name / version / version_label; the status codes of errors and limits."""

import os

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from aign_tf import testing
from aign_tf.serving import hostile
from aign_tf.serving import limits as limits_lib
from aign_tf.serving import server
from aign_tf.serving import testing as serving_testing

LIMITS = limits_lib.Limits(max_body_bytes=200_000, max_batch_size=4,
                           max_pixels_per_image=100, max_pixels_per_request=200)


class GrpcTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.base = os.path.join(tf.compat.v1.test.get_temp_dir(), "grpc_models")
    fakes, cls.repo = serving_testing.fake_repository(cls.base, image_labels={"stable": 1})
    (cls.toy_task, cls.toy_generator), (cls.image_task, cls.image_generator) = (
        fakes["toy"], fakes["image"])
    cls.srv = server.ModelServer(cls.repo, port=0, grpc_port=0, limits=LIMITS).start()
    cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.srv.grpc_port}")
    cls.predictions = prediction_service_pb2_grpc.PredictionServiceStub(cls.channel)
    cls.models = model_service_pb2_grpc.ModelServiceStub(cls.channel)

  @classmethod
  def tearDownClass(cls):
    cls.channel.close()
    cls.srv.shutdown()
    super().tearDownClass()

  def predict_request(self, name, inputs, signature_name=None, version=None, label=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if signature_name:
      request.model_spec.signature_name = signature_name
    if version is not None:
      request.model_spec.version.value = version
    if label is not None:
      request.model_spec.version_label = label
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(value if isinstance(value, type(request.inputs[key]))
                                   else tf.make_tensor_proto(value))
    return request

  def assert_code(self, call, request, code, needle):
    with self.assertRaises(grpc.RpcError) as caught:
      call(request, timeout=30)
    self.assertEqual(caught.exception.code(), code, caught.exception.details())
    self.assertIn(needle, caught.exception.details())
    self.assertNotIn(self.base, caught.exception.details())

  # The three methods ----------------------------------------------------------------------

  def test_predict_float_input(self):
    observation = np.array([[1, 2, 3, 4], [0, 0, 0, 0.5]], np.float32)
    response = self.predictions.Predict(
        self.predict_request("toy", {"observation": observation}, version=1), timeout=30)
    expected = self.toy_task.export.serve(self.toy_generator,
                                          {"observation": tf.constant(observation)})
    self.assertEqual(response.model_spec.name, "toy")
    self.assertEqual(response.model_spec.version.value, 1)
    self.assertEqual(response.model_spec.signature_name, "serving_default")
    self.assertSameElements(response.outputs, expected)
    for name, value in expected.items():
      self.assertAllClose(tf.make_ndarray(response.outputs[name]), value, atol=1e-6)

  def test_predict_png_bytes_and_output_filter(self):
    images = serving_testing.random_inputs(self.image_task.export.input_signature(),
                                           3)["image"]
    pngs = [serving_testing.encode_png(x) for x in images]
    request = self.predict_request("image", {"image": tf.make_tensor_proto(pngs,
                                                                           dtype=tf.string)},
                                   signature_name="serving_bytes", label="stable")
    request.output_filter.append("image")
    response = self.predictions.Predict(request, timeout=30)
    self.assertEqual(list(response.outputs), ["image"])
    self.assertEqual(response.outputs["image"].dtype, tf.uint8.as_datatype_enum)
    expected = self.image_task.export.serve(self.image_generator, {"image": tf.constant(images)})
    self.assertAllEqual(tf.make_ndarray(response.outputs["image"]), expected["image"])
    # serving_png: DT_STRING out.
    response = self.predictions.Predict(self.predict_request(
        "image", {"image": tf.make_tensor_proto(pngs, dtype=tf.string)},
        signature_name="serving_png"), timeout=30)
    out = tf.make_ndarray(response.outputs["image_png_bytes"])
    self.assertAllEqual(tf.io.decode_png(out[0]), expected["image"][0])

  def test_get_model_metadata(self):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "image"
    request.metadata_field.append("signature_def")
    response = self.predictions.GetModelMetadata(request, timeout=30)
    self.assertEqual(response.model_spec.name, "image")
    self.assertEqual(response.model_spec.version.value, 1)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    self.assertTrue(response.metadata["signature_def"].Unpack(signatures))
    self.assertSameElements(signatures.signature_def,
                            ["serving_default", "serving_bytes", "serving_png", "metadata"])
    image = signatures.signature_def["serving_bytes"].inputs["image"]
    self.assertEqual(image.dtype, tf.string.as_datatype_enum)
    request.metadata_field[0] = "nope"
    self.assert_code(self.predictions.GetModelMetadata, request,
                     grpc.StatusCode.INVALID_ARGUMENT, "signature_def")

  def test_get_model_status(self):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "toy"
    response = self.models.GetModelStatus(request, timeout=30)
    self.assertLen(response.model_version_status, 1)
    status = response.model_version_status[0]
    self.assertEqual(status.version, 1)
    self.assertEqual(status.state, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    self.assertEqual(status.status.error_code, 0)
    request.model_spec.version.value = 7
    self.assert_code(self.models.GetModelStatus, request, grpc.StatusCode.NOT_FOUND,
                     "version 7")

  # Errors and limits -----------------------------------------------------------------------

  def test_error_codes(self):
    floats = np.ones([1, 4], np.float32)
    cases = [
        (self.predict_request("nope", {"observation": floats}), grpc.StatusCode.NOT_FOUND,
         "model 'nope' not found"),
        (self.predict_request("toy", {"observation": floats}, version=9),
         grpc.StatusCode.NOT_FOUND, "version 9"),
        (self.predict_request("image", {"image": floats}, label="nope"),
         grpc.StatusCode.NOT_FOUND, "no version label"),
        (self.predict_request("toy", {"observation": floats}, signature_name="nope"),
         grpc.StatusCode.INVALID_ARGUMENT, "unknown signature 'nope'"),
        (self.predict_request("toy", {"observation": np.ones([1, 4], np.float64)}),
         grpc.StatusCode.INVALID_ARGUMENT, "dtype float64"),
        (self.predict_request("toy", {"observation": np.ones([1, 3], np.float32)}),
         grpc.StatusCode.INVALID_ARGUMENT, "wrong shape [1, 3]"),
        (self.predict_request("toy", {"other": floats}), grpc.StatusCode.INVALID_ARGUMENT,
         "unknown input 'other'"),
        (self.predict_request("toy", {}), grpc.StatusCode.INVALID_ARGUMENT,
         "missing input 'observation'"),
        (self.predict_request("toy", {"observation": np.ones([5, 4], np.float32)}),
         grpc.StatusCode.INVALID_ARGUMENT, "max_batch_size"),
        (self.predict_request("image", {"image": tf.make_tensor_proto([], dtype=tf.string)},
                              signature_name="serving_bytes"),
         grpc.StatusCode.INVALID_ARGUMENT, "input 'image': empty"),
        (self.predict_request("image", {"image": tf.make_tensor_proto(
            [b"not an image"], dtype=tf.string)}, signature_name="serving_bytes"),
         grpc.StatusCode.INVALID_ARGUMENT, "Unknown image file format"),
        (self.predict_request("image", {"image": tf.make_tensor_proto(
            [hostile.bomb_png()], dtype=tf.string)}, signature_name="serving_bytes"),
         grpc.StatusCode.INVALID_ARGUMENT, "max_pixels_per_image"),
        (self.predict_request("image", {"image": tf.make_tensor_proto(
            [serving_testing.encode_png(np.zeros([8, 8, 3], np.uint8))] * 4,
            dtype=tf.string)}, signature_name="serving_bytes"),
         grpc.StatusCode.INVALID_ARGUMENT, "max_pixels_per_request"),
    ]
    for request, code, needle in cases:
      with self.subTest(needle=needle):
        self.assert_code(self.predictions.Predict, request, code, needle)
    # A tensor claiming more elements than any message may carry, without its values.
    request = self.predict_request("toy", {"observation": floats})
    request.inputs["observation"].tensor_shape.dim[1].size = 10 ** 9
    request.inputs["observation"].ClearField("tensor_content")
    self.assert_code(self.predictions.Predict, request, grpc.StatusCode.RESOURCE_EXHAUSTED,
                     "max_body_bytes")

  def test_message_over_the_limit(self):
    big = np.ones([4, 100_000], np.float32)  # 1.6 MB > 200 KB.
    self.assert_code(self.predictions.Predict, self.predict_request("toy", {"observation": big}),
                     grpc.StatusCode.RESOURCE_EXHAUSTED, "")

  def test_unimplemented_methods(self):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "toy"
    self.assert_code(self.predictions.Classify, request, grpc.StatusCode.UNIMPLEMENTED, "")


if __name__ == "__main__":
  tf.test.main()
