"""Motion capture and 2D keypoint formats for the pose task, mapped to one joint layout.

skeleton.py   the 17-joint layout (Human3.6M order) and every source's mapping table
kinematics.py Euler/quaternion rotations and forward kinematics (NumPy)
bvh.py        BVH files            asf_amc.py  CMU ASF/AMC pairs
h36m.py       VideoPose3D npz      deepmimic.py DeepMimic motion clips (pybullet_data)
keypoints2d.py 2D detector output (COCO results JSON, VideoPose3D npz) -> the model's input
intrinsics.py camera intrinsics given, read from a photo, or assumed from an image size
procedural.py the embedded procedural clips (no download)
"""
