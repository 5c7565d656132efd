"""Read-only views for the screens: statistics for the big screen, the CSV report, the
tablet's task list, an incident as a NENA EIDO (eido.py).

May import: `dispatch.storage`, `dispatch.access`, `dispatch.core` (its state sets), below.
"""
