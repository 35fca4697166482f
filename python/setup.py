"""Builds the cloze Python package: the pure-Python modules in cloze/ and the
extension cloze._cloze, compiled by the repository's CMake build
(-DCLOZE_PYTHON=ON) against the C++ library with Debian's pybind11.

    pip install --no-build-isolation ./python
    python3 -m build --no-isolation --wheel python

Environment: CLOZE_BUILD_DIR (default: <repo>/build-python, reused between
builds), CMAKE_BUILD_PARALLEL_LEVEL (default 2).
"""
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if not os.path.isfile(os.path.join(ROOT, "CMakeLists.txt")):
            sys.exit(f"cloze: {ROOT} is not the cloze source tree; build from a checkout (pip install ./python)")
        build_dir = os.environ.get("CLOZE_BUILD_DIR", os.path.join(ROOT, "build-python"))
        configure = ["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DCLOZE_PYTHON=ON",
                     "-DCLOZE_TESTS=OFF", "-DCLOZE_BENCH=OFF", f"-DPYTHON_EXECUTABLE={sys.executable}"]
        if shutil.which("ccache"):
            configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        subprocess.check_call(configure)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_cloze", "-j", jobs])
        built = os.path.join(build_dir, "python", "_cloze" + sysconfig.get_config_var("EXT_SUFFIX"))
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(built, dest)


setup(ext_modules=[CMakeExtension("cloze._cloze")], cmdclass={"build_ext": CMakeBuild})
