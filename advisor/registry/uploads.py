"""The upload handler that keeps design files within ADVISOR_MAX_DESIGN_BYTES.

It runs first for every uploaded file (settings.FILE_UPLOAD_HANDLERS; design files are the only
uploads the advisor takes). As soon as a file passes the limit it is skipped: the rest of it is
read off the connection and discarded, never kept in memory or written to a temporary file, and
the request remembers it (`request.upload_too_large`: file name and the bytes seen so far) for the
view to say why nothing was imported.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class DesignSizeLimitHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        seen = start + len(raw_data)
        if seen > settings.ADVISOR_MAX_DESIGN_BYTES:
            if self.request is not None:
                self.request.upload_too_large = (self.file_name or "the file", seen)
            raise SkipFile
        return raw_data  # to the next handler, which keeps it

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file
