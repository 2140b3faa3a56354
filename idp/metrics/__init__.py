"""Prometheus metrics: what the provider counts and times (``definitions``), what is read at
scrape time (``collectors``), the hooks that count (``hooks``), ``/metrics`` (``web``), the
separate listener (``listener``) and the worker processes' shared directory (``processes``).

Importing this package imports nothing else: ``prometheus_client`` must first be imported in a
process after ``processes.prepare_processes`` chose its multiprocess directory.
"""
