"""pytest settings for the whole checkout (the package's doctests included)."""

import importlib.util

# skcnn.onnx needs the optional ``onnx`` extra: without it, its doctests are not
# collected (importing the module then raises an ImportError saying what to install).
collect_ignore = []
if not all(importlib.util.find_spec(name) for name in ("skl2onnx", "onnx")):
    collect_ignore += ["skcnn/onnx.py", "skcnn/_onnx.py"]
