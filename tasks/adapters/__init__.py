"""Adapters to the outside world: database, files, mail, SFTP, OCR, data-quality engine."""
