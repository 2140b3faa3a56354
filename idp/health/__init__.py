"""Readiness for load balancers (``/readyz``): each part the provider needs checked within a
short deadline, concurrently, the answer reused for a moment (``readiness.py``)."""
