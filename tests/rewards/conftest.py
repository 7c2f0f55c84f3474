import pytest

from swift_plugins import rewards as plugin
from swift_plugins.judge.node_slots import forget
from tests.helpers.judge import use_judge
from tests.helpers.loopback_server import ScriptedServer, obedient_judge


@pytest.fixture(scope="module")
def judge_env():
    """An obedient scripted judge for tests about the rewards' arithmetic, not the judge."""
    server = ScriptedServer(reply=obedient_judge("1", "0.5")).start()
    mp = pytest.MonkeyPatch()
    use_judge(mp, server.base_url)
    yield server
    mp.undo()
    plugin.settings_from_env.cache_clear()
    server.stop()
    forget(server.base_url)  # its judge slots (swift_plugins/judge/node_slots.py)
