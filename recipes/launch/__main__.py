import sys

from audio_thinker.cli import run

from .run import main

sys.exit(run(main))
