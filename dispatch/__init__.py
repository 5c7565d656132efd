"""Three-tier emergency dispatch: alerts in, incidents through their lifecycle, tasks out."""

__version__ = "0.1.0"
