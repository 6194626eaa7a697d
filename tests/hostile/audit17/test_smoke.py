from authhygiene.audit.run import run
from tests.hostile.audit17.rawserver import RawServer, good_answer


def test_good_raw_server_passes():
    with RawServer(lambda c, r, s: c.sendall(good_answer(r))) as srv:
        report = run(f"http://127.0.0.1:{srv.port}/me", timeout=2)
    assert not report.failed, report.failed
