"""Packaging for tb-recipe.

The core install (reader, analyzer, CLI, TensorBoard plugin) must not pull in
TensorFlow; the Keras callback is the `tensorflow` extra.
"""

from setuptools import find_packages, setup

setup(
    name="tb-recipe",
    version="0.1.0",
    description="Diagnose TensorBoard training curves and suggest what to change",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["tb_recipe_plugin", "tb_recipe_plugin.*"]),
    # The tab's ES module is served by the plugin, so it ships inside the package.
    package_data={"tb_recipe_plugin.tensorboard": ["frontend/*.js"]},
    install_requires=[
        "tensorboard>=2.15",
        "numpy>=1.24",
        "protobuf>=4.21",
        "werkzeug>=2.2",
        "rich>=13",
        "fsspec>=2023.1",
        "google-crc32c>=1.5",
        "plotly>=5",
        "scipy>=1.10",  # Theil-Sen tail trends in the analyzer (analysis/curves.py)
        "PyYAML>=6",  # sweeps: hparams.yaml / args.yaml / opt.yaml beside a run (sweep/hparams.py)
    ],
    extras_require={
        # keras: the versions keras/adapter.py is tested on (CI runs both ends).
        "tensorflow": ["tensorflow>=2.16", "keras>=3.12,<3.16"],
        "dev": [
            "pytest>=8",
            "hypothesis>=6.100",
            "ruff>=0.5",
            "tbparse>=0.0.9",
            "tensorboardX>=2.6",
            "playwright>=1.40",
            # benchmarks: the peer in benchmarks/accuracy.py (its internals are used, hence <0.2) and the
            # corpus programs' data sets
            "runmedic>=0.1.1,<0.2",
            "scikit-learn>=1.3",
        ],
        # benchmarks/corpus: the PyTorch, Lightning-style, HF-style and tensorboardX programs (CPU wheels suffice:
        # pip install -e '.[corpus]' --extra-index-url https://download.pytorch.org/whl/cpu)
        "corpus": ["torch>=2.2"],
    },
    entry_points={
        "console_scripts": ["tb-recipe=tb_recipe_plugin.cli:main"],
        "tensorboard_plugins": ["tb_recipe = tb_recipe_plugin.tensorboard.plugin:DiagnosisPlugin"],
    },
)
