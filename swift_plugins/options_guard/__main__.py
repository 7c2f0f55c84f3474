"""``python -m swift_plugins.options_guard``: the table of docs/options.md on stdout."""
import sys

from swift_plugins.options_guard.table import options_markdown

sys.stdout.write(options_markdown())
