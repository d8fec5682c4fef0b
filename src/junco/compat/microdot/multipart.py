"""Microdot's ``microdot.multipart``."""

from . import FileUpload, FormDataIter, with_form_data

__all__ = ["FileUpload", "FormDataIter", "with_form_data"]
