"""Uploaded media: sniffing, image processing and video probing
(:mod:`server.media.processing`), pure functions the upload endpoint runs in
a worker thread."""
