"""Bilinear sampling of images at float pixel coordinates, with a validity mask.

Pixel convention: the integer coordinate (x, y) = (column, row) is the *centre* of pixel
`image[..., y, x, :]`, so valid coordinates lie in `[0, W - 1] x [0, H - 1]`. For a point
(x, y) with x0 = floor(x), y0 = floor(y), a = x - x0, b = y - y0:

  sample(x, y) = (1 - a)(1 - b) I[y0, x0] + a (1 - b) I[y0, x0 + 1]
                 + (1 - a) b I[y0 + 1, x0] + a b I[y0 + 1, x0 + 1].

The sample is differentiable with respect to the image (the four weights) and to the
coordinates (a and b; floor itself has zero gradient, as in every bilinear warp). Corner
indices are clamped to the image, so out-of-bounds points still give finite values; the
returned mask says which points were inside (as in spatial transformer networks, Jaderberg et
al. 2015, and the view-synthesis loss of Zhou et al. 2017).
"""

import tensorflow as tf

# Points this close (in pixels) outside the image count as inside: round-off of an exact
# projection onto the border must not invalidate it.
_TOLERANCE = 1e-3


def bilinear_sample(image, coordinates, name="bilinear_sample"):
  """Samples `image` bilinearly at float pixel `coordinates`.

  Args:
    image: `[A1, ..., An, H, W, C]` float tensor.
    coordinates: `[A1, ..., An, H', W', 2]` float tensor of (x, y) pixel positions (x the
      column, y the row; integers are pixel centres).
    name: op name scope.

  Returns:
    (samples `[A1, ..., An, H', W', C]`, validity `[A1, ..., An, H', W', 1]`), the validity
    1.0 where the point lies in `[0, W - 1] x [0, H - 1]` (to within 1e-3 pixel) and 0.0 elsewhere (no gradient).

  Raises:
    ValueError: if the ranks or batch shapes of the inputs do not match, or the last axis
      of `coordinates` is not 2.
  """
  with tf.name_scope(name):
    image = tf.convert_to_tensor(image)
    coordinates = tf.cast(tf.convert_to_tensor(coordinates), image.dtype)
    if image.shape.rank is None or image.shape.rank < 3:
      raise ValueError(f"bilinear_sample: image must be [..., H, W, C], got {image.shape}")
    if coordinates.shape.rank != image.shape.rank or coordinates.shape[-1] != 2:
      raise ValueError("bilinear_sample: coordinates must be [..., H', W', 2] with the "
                       f"image's batch axes; got image {image.shape}, coordinates "
                       f"{coordinates.shape}")
    if not image.shape[:-3].is_compatible_with(coordinates.shape[:-3]):
      raise ValueError(f"bilinear_sample: batch shapes differ: image {image.shape}, "
                       f"coordinates {coordinates.shape}")

    # Flatten the batch axes to one.
    image_shape = tf.shape(image)
    coord_shape = tf.shape(coordinates)
    height, width, channels = image_shape[-3], image_shape[-2], image_shape[-1]
    flat_image = tf.reshape(image, tf.stack([-1, height, width, channels]))
    flat_coords = tf.reshape(coordinates,
                             tf.stack([-1, coord_shape[-3], coord_shape[-2], 2]))
    x, y = flat_coords[..., 0], flat_coords[..., 1]

    # Which points are inside, and the four clamped corners.
    max_x = tf.cast(width - 1, image.dtype)
    max_y = tf.cast(height - 1, image.dtype)
    tol = tf.cast(_TOLERANCE, image.dtype)
    valid = tf.cast((x >= -tol) & (x <= max_x + tol) & (y >= -tol) & (y <= max_y + tol),
                    image.dtype)
    x0 = tf.floor(x)
    y0 = tf.floor(y)
    a = (x - x0)[..., None]
    b = (y - y0)[..., None]
    x0i = tf.cast(x0, tf.int32)
    y0i = tf.cast(y0, tf.int32)
    x1i = tf.clip_by_value(x0i + 1, 0, width - 1)
    y1i = tf.clip_by_value(y0i + 1, 0, height - 1)
    x0i = tf.clip_by_value(x0i, 0, width - 1)
    y0i = tf.clip_by_value(y0i, 0, height - 1)

    def gather(yi, xi):
      return tf.gather_nd(flat_image, tf.stack([yi, xi], axis=-1), batch_dims=1)

    samples = ((1.0 - a) * (1.0 - b) * gather(y0i, x0i) + a * (1.0 - b) * gather(y0i, x1i)
               + (1.0 - a) * b * gather(y1i, x0i) + a * b * gather(y1i, x1i))

    out_shape = tf.concat([coord_shape[:-1], [channels]], axis=0)
    samples = tf.reshape(samples, out_shape)
    valid = tf.reshape(valid, tf.concat([coord_shape[:-1], [1]], axis=0))
    return samples, tf.stop_gradient(valid)
