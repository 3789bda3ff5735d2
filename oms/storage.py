"""Static file storage: hashed, compressed files served by WhiteNoise."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names after `collectstatic`; plain names before it (tests, a fresh checkout)."""

    manifest_strict = False
