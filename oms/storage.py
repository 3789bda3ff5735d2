"""Static file storage: hashed, compressed files served by WhiteNoise."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names after `collectstatic`; plain names before it (tests, a fresh checkout, a benchmark).

    Django's manifest storage raises ValueError for a file that was never collected, even with
    `manifest_strict = False`, because it then tries to hash the file in STATIC_ROOT. A page must not
    crash for want of `collectstatic`, so an uncollected file keeps its plain name.
    """

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name
