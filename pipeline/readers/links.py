"""The public URLs Paperround puts in mail; the web app serves exactly these paths."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.readers.tokens import Signer


@dataclass(frozen=True)
class LinkMaker:
    base_url: str
    signer: Signer

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def confirm(self, subscriber_id: int, version: int) -> str:
        return self._url("/confirm/" + self.signer.make("confirm", subscriber_id, version))

    def unsubscribe(self, subscriber_id: int, version: int) -> str:
        return self._url("/unsubscribe/" + self.signer.make("unsubscribe", subscriber_id, version))

    def preferences(self, subscriber_id: int, version: int) -> str:
        return self._url("/preferences/" + self.signer.make("preferences", subscriber_id, version))

    def archive(self, edition_id: int) -> str:
        """The view-in-browser page: the edition without any reader's personal links."""
        return self._url(f"/archive/{edition_id}")

    def home(self) -> str:
        return self._url("/")
