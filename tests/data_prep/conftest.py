"""Fixtures of the data-prep tests (the media helpers are in tests/helpers/media.py)."""
import pytest

from tests.helpers import media


@pytest.fixture(scope="session")
def good_clip_audio():
    return media.good_clip_audio()
