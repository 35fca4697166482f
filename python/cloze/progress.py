"""Progress bars: tqdm (notebook widget or terminal, via tqdm.auto) when it is
installed, else a plain counter on stderr."""
import sys


class _Plain:
    def __init__(self, total, desc):
        self.n, self.total, self.desc = 0, total, desc

    def update(self, k):
        self.n += k
        sys.stderr.write(f"\r{self.desc}: {self.n}/{self.total}")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


class _Silent:
    def update(self, k):
        pass

    def close(self):
        pass


def bar(total, desc, enabled):
    if not enabled:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Plain(total, desc)
    return tqdm(total=total, desc=desc, unit="text")
