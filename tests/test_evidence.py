"""Evidence for every verdict (issue 18 item 6).

A check keeps every exchange it made (wire layer: request and response excerpt of each; SDK
layer: the request and what the SDK made of it: the conversation, the blocks it yielded,
how it ended), so a failure can always be read, also in live mode where no cassette exists.
"""

from __future__ import annotations

import json
from pathlib import Path

from sse_server import SSEServer
from test_flaky import LOOP, AgentLoopServer, _plugin, _results

from conformance.report import write_reports


def test_a_multi_request_check_keeps_every_exchange(sse_server: SSEServer, tmp_path: Path) -> None:
    sse_server.script.add(AgentLoopServer(broken=0), times=None)
    _plugin(tmp_path, sse_server, *LOOP)
    got = _results(tmp_path)["multiturn.agent-loop[wire]"]
    assert got["outcome"] == "pass", got["message"]
    exchanges = got["evidence"]["exchanges"]
    assert [x["request"]["messages"][-1]["role"] for x in exchanges] == ["user", "tool"]
    assert '"get_weather"' in exchanges[0]["response_excerpt"]
    assert "sunny" in exchanges[1]["response_excerpt"]
    assert got["evidence"]["response_excerpt"] == exchanges[1]["response_excerpt"]

    written = write_reports([tmp_path / "reports" / "results"], tmp_path / "out")
    assert written
    html = (tmp_path / "out" / "compatibility.html").read_text(encoding="utf-8")
    data = html.split('<script type="application/json" id="report-data">', 1)[1]
    data = json.loads(data.split("</script>", 1)[0])
    cells = [c["layers"]["wire"] for c in data["cells"].values() if "wire" in c["layers"]]
    shown = [c for c in cells if c.get("exchanges")]
    assert len(shown) == 1
    assert len(shown[0]["exchanges"]) == 2


def test_a_failing_sdk_check_shows_what_the_sdk_got(sse_server: SSEServer, tmp_path: Path) -> None:
    # every turn 1 ends in llama-server's in-stream error (llama.cpp #24644)
    sse_server.script.add(AgentLoopServer(broken=99), times=None)
    _plugin(tmp_path, sse_server, *LOOP[:1], "multiturn.agent-loop", "--layers", "sdk")
    got = _results(tmp_path)["multiturn.agent-loop[sdk]"]
    assert got["outcome"] == "fail"
    excerpt = got["evidence"]["response_excerpt"]
    assert excerpt, "a failing SDK-layer check needs a response in the drawer"
    end = json.loads(excerpt)["end"]
    assert "peg-native" in end["error"]
    assert got["evidence"]["request"]["sdk"] is True
