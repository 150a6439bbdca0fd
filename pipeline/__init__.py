"""Paperround's library: ingestion, store, ranking, rendering and delivery.

Plain Python only: nothing here imports Celery, click or Flask (those live in workers/).
"""

__version__ = "0.1.0"
