"""The heap is trimmed only after a quiet spell, so a trim never lands in the middle of load."""

from services.platform.memory import IdleTrimmer


class Clocks:
    def __init__(self):
        self.cpu = 0.0
        self.wall = 0.0

    def spell(self, seconds: float, busy_share: float) -> None:
        self.wall += seconds
        self.cpu += seconds * busy_share


def trimmer(clocks: Clocks, **kwargs) -> IdleTrimmer:
    return IdleTrimmer(cpu=lambda: clocks.cpu, clock=lambda: clocks.wall, **kwargs)


def test_an_idle_spell_trims_and_a_busy_one_does_not():
    clocks = Clocks()
    t = trimmer(clocks, interval=30, idle_share=0.05)
    clocks.spell(5, busy_share=0.30)  # start-up or load
    assert not t.due()
    clocks.spell(5, busy_share=0.01)
    assert t.due()


def test_a_busy_process_is_never_trimmed_however_long_it_runs():
    clocks = Clocks()
    t = trimmer(clocks, interval=30, idle_share=0.05)
    for _ in range(100):
        clocks.spell(5, busy_share=0.10)
        assert not t.due()


def test_trims_while_idle_are_at_least_an_interval_apart():
    clocks = Clocks()
    t = trimmer(clocks, interval=30, idle_share=0.05)
    trims = []
    for _ in range(24):  # two minutes of idle, checked every 5 s
        clocks.spell(5, busy_share=0.0)
        if t.due():
            trims.append(clocks.wall)
            clocks.cpu += 0.08  # the trim's own CPU
            t.trimmed()
    assert trims == [5, 35, 65, 95]

