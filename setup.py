"""Install the repository's top-level folders under the single import root ``convcheck``.

``verify/``, ``solvers/``, ``theorems/`` and ``reports/`` become ``convcheck.verify``,
``convcheck.solvers``, ``convcheck.theorems`` and ``convcheck.reports`` (``src/convcheck`` is
the root package); nothing with a generic name lands in site-packages.  Subpackages (one
folder per paper under ``theorems/``) are found here, so adding a paper needs no edit.
"""

from setuptools import find_packages, setup

ROOTS = ("verify", "solvers", "theorems", "reports")

packages = ["convcheck"]
package_dir = {"convcheck": "src/convcheck"}
for root in ROOTS:
    package_dir[f"convcheck.{root}"] = root
    packages += [f"convcheck.{root}"] + [f"convcheck.{root}.{sub}" for sub in find_packages(root)]

setup(packages=packages, package_dir=package_dir)
