"""The one error raised for content that does not fit the document schema."""

from __future__ import annotations


class ContentError(ValueError):
    """A document (ProseMirror JSON, Markdown, Yjs content) that cannot be accepted.

    ``path`` locates the offending value like a JSON pointer into the submitted document
    (``/content/2/content/0/marks/1``); ``""`` means the document itself.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{message} (at {path or '/'})")
        self.message = message
        self.path = path
