"""Test helpers shared across the suite: real local servers, never mocks of network peers."""

from tests.support.feedserver import FeedServer, RecordedRequest, Reply, unused_port

__all__ = ["FeedServer", "RecordedRequest", "Reply", "unused_port"]
