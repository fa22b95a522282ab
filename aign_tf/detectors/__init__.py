"""Offline 2D detectors: BlazePose (33 body landmarks) and BlazeFace (faces, 6 keypoints).

The networks are MediaPipe's legacy-solution models, read as plain .tflite files out of the
`mediapipe==0.10.14` wheel (Apache-2.0; see `models.py`) without installing mediapipe, and
run with LiteRT (`ai_edge_litert.interpreter.Interpreter`). Pre- and post-processing (SSD
anchors, box decoding, weighted non-maximum suppression, rotated regions of interest,
landmark decoding) are written here after MediaPipe's graph definitions
(`mediapipe/modules/{pose_detection,pose_landmark,face_detection}/*.pbtxt`).

Modules:
  models      fetch the wheel (pinned SHA-256), extract the .tflite files into a cache
  anchors     SSD anchor centres of the detection networks
  geometry    rotated rectangles, affine crops, box decoding, weighted NMS, similarities
  images      photos (EXIF orientation) and arrays as RGB uint8 (videos and frame folders:
              `aign_tf.core.video`)
  blazeface   faces -> boxes + 6 keypoints; eye-based alignment and paste-back
  blazepose   people -> 33 landmarks -> the pose task's H36M-17 layout
  pose_video  a video or frame folder -> per-frame keypoint JSON and drawn frames
  testing     tests' helper: the fetched models, or a skip with the reason
"""
