"""How many messages wait in each queue, for `paperround status` (Redis or filesystem broker)."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import Settings
from workers.jobs.app import QUEUES, broker_options


def queue_depths(settings: Settings) -> dict[str, int | str]:
    """Messages waiting per queue; a string says why a depth could not be read."""
    url, options = broker_options(settings)
    if settings.broker_is_redis:
        import redis

        prefix = settings.redis_key_prefix  # kombu's global_keyprefix (workers/jobs/app.py)
        try:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            depths: dict[str, int | str] = {
                q: int(client.llen(prefix + q))  # type: ignore[arg-type]
                for q in QUEUES
            }
            client.close()
        except redis.RedisError as exc:
            return dict.fromkeys(QUEUES, f"unavailable: {exc}")
        return depths
    if url.startswith("filesystem://"):
        folder = Path(options["data_folder_in"])
        names = [p.name for p in folder.iterdir()] if folder.exists() else []
        # kombu names each message file "<timestamp>_<uuid>.<queue>.msg"
        return {q: sum(name.endswith(f".{q}.msg") for name in names) for q in QUEUES}
    return dict.fromkeys(QUEUES, "not reported for this broker")
