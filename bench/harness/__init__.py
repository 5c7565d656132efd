"""What every benchmark shares: servers, clients, brokers, figures and the results they write."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
CONFIG = REPO / "config.yaml"
