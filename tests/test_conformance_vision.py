"""The vision checks against the reference server: each passes on it, fails with the quirk
a real server has, is n/a on a text-only model; recorded, they replay with no image server."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from test_conformance_plugin import results, run

from conformance.catalogue import checks as registry
from conformance.catalogue.profiles import PROFILES
from conformance.checks import vision
from conformance.harness.context import Target, Verdict
from conformance.harness.recording import Manifest
from conformance.harness.runner import Column, run_item
from conformance.results import CheckResult
from conformance.testing.fakeserver import QUIRKS, FakeServer, _png_colour
from conformance.vocabulary import Layer

VISION = [c.id for c in registry.CHECKS if c.area == "vision"]


def _outcomes(res: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {k: r["outcome"] for k, r in res.items()}


def test_the_vision_area_is_in_catalogue_order_and_gated() -> None:
    assert registry.AREAS.index("vision") > registry.AREAS.index("errors")
    assert "vision" in registry.CAPABILITIES
    assert len(VISION) == 5
    for check in registry.CHECKS:
        if check.area == "vision":
            assert check.requires == ("vision",), check.id
            assert check.since == "0.2.0", check.id
    assert registry.get("vision.image-data-uri").layers == ("wire", "sdk")


def test_reference_server_passes_every_vision_check(tmp_path: Path) -> None:
    with FakeServer() as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--checks", "vision.*")
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    assert set(res) == {f"{c}[wire]" for c in VISION} | {"vision.image-data-uri[sdk]"}
    assert set(_outcomes(res).values()) == {"pass"}, {k: r["message"] for k, r in res.items()}
    sent = res["vision.image-url[wire]"]["evidence"]["request"]["messages"][0]["content"][1]
    assert sent["image_url"]["url"] == vision.IMAGE_URL  # the same on every machine


def _judge(
    srv: FakeServer | str, check: str, layer: Layer = "wire", timeout: float = 20.0
) -> CheckResult:
    """One (check, layer) against ``srv`` (or a base URL) through the runner, in this process
    (live mode)."""
    url = srv if isinstance(srv, str) else srv.base_url
    target = Target(provider="generic", profile=PROFILES["generic"], base_url=url,
                    model="ref-model", mode="live", request_timeout=timeout)  # fmt: skip
    manifest = Manifest(provider="generic", model="ref-model", base_url=url)
    column = Column(target=target, cassette_dir=Path("unused"), manifest=manifest)
    return run_item(registry.get(check), layer, column)


@pytest.mark.parametrize(
    ("quirk", "check", "words"),
    [
        ("image-500", "vision.image-data-uri", "HTTP 500"),
        ("images-ignored", "vision.image-data-uri", "does not name the image's colour (red)"),
        ("image-url-refused", "vision.image-url", "invalid image input"),
        ("bad-image-500", "vision.malformed-image", "HTTP 500"),
        ("fetch-error-500", "vision.url-unreachable", "HTTP 500"),
        ("reads-file-urls", "vision.file-url-refused", "HTTP 200"),
    ],
)
def test_each_vision_check_fails_with_its_quirk(quirk: str, check: str, words: str) -> None:
    assert quirk in QUIRKS
    with FakeServer() as srv:
        before = _judge(srv, check)
    with FakeServer([quirk]) as srv:
        after = _judge(srv, check)
    assert before.outcome == "pass", before.message
    assert after.outcome == "fail", after.message
    assert words in after.message


def test_a_server_that_hangs_on_an_unfetchable_url_fails() -> None:
    # a server that takes the request and never answers (it waits on the image forever)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        res = _judge(url, "vision.url-unreachable", timeout=1.0)
    assert res.outcome == "fail", res.message
    assert "no answer within 1 s" in res.message


def test_the_sdk_layer_fails_on_a_500_for_an_image() -> None:
    with FakeServer(["image-500"]) as srv:
        res = _judge(srv, "vision.image-data-uri", "sdk")
    assert res.outcome == "fail"
    assert "500" in res.message


def test_the_sdk_layer_fails_when_the_image_is_ignored() -> None:
    # a model that always names one colour is right about one of the two images only
    with FakeServer(["images-ignored"]) as srv:
        res = _judge(srv, "vision.image-data-uri", "sdk")
    assert res.outcome == "fail", res.message
    assert "(red)" in res.message


def test_a_text_only_model_is_not_failed_for_lacking_vision() -> None:
    with FakeServer(vision=False) as srv:
        got = {(c, layer): _judge(srv, c, layer) for c in VISION
               for layer in registry.get(c).layers}  # fmt: skip
    outcomes = {k: r.outcome for k, r in got.items()}
    assert outcomes.pop(("vision.file-url-refused", "wire")) == "pass"  # refused, read or not
    assert set(outcomes.values()) == {"n/a"}, {k: r.message for k, r in got.items()}
    # the SDK believes the server's /v1/models (input_modalities) and sends nothing
    assert "SDK refused" in got[("vision.image-data-uri", "sdk")].message


def test_a_server_that_does_not_say_it_sees_is_sent_images_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # most servers' /v1/models say nothing of modalities
    real = FakeServer._send_json

    async def quiet(self: FakeServer, writer: Any, status: int, obj: Any) -> None:
        if isinstance(obj, dict) and obj.get("object") == "list":
            obj = {**obj, "data": [{k: v for k, v in m.items() if k != "architecture"}
                                   for m in obj["data"]]}  # fmt: skip
        await real(self, writer, status, obj)

    monkeypatch.setattr(FakeServer, "_send_json", quiet)
    with FakeServer() as srv:
        res = _judge(srv, "vision.image-data-uri", "sdk")
    assert res.outcome == "warn", res.message
    assert "vision=True" in res.message


def test_a_recording_replays_without_an_image_server(tmp_path: Path) -> None:
    with FakeServer() as srv:
        proc = run(tmp_path, "--base-url", srv.base_url, "--conformance-mode", "record",
                   "--checks", "vision.*")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    recorded = _outcomes(results(tmp_path))
    col = tmp_path / "cassettes" / "generic" / "ref-model"
    assert vision.IMAGE_URL in (col / "vision.image-url.yaml").read_text()
    (tmp_path / "reports").rename(tmp_path / "reports-record")
    # the reference server is gone and the network is blocked: the cassette answers
    proc = run(tmp_path, "--conformance-mode", "replay", "--checks", "vision.*")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert _outcomes(results(tmp_path)) == recorded
    assert set(recorded.values()) == {"pass"}


# ---- pieces ------------------------------------------------------------------------------------


def test_the_png_is_tiny_and_the_toy_model_reads_its_colour() -> None:
    red = vision.solid_png((220, 20, 20))
    assert len(red) < 120
    assert _png_colour(red) == "red"
    assert _png_colour(vision.solid_png((20, 40, 220))) == "blue"
    assert _png_colour(b"\x89PNG\r\n\x1a\nnot really") is None
    assert _png_colour(b"GIF89a") is None


@pytest.mark.parametrize(
    ("message", "no_vision"),
    [
        ("image input is not supported - hint: you may need to provide the mmproj", True),
        ("ref-model is not a vision model: it takes no images", True),
        ("This model does not support image input", True),
        ("invalid image input", False),  # Ollama refusing a URL: the model may well see
        ("could not fetch the image: HTTP 404", False),
    ],
)
def test_what_counts_as_a_model_without_vision(message: str, no_vision: bool) -> None:
    assert bool(vision.NO_VISION_RX.search(message)) is no_vision


def _get(path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", vision.IMAGE_PORT), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_image_server_serves_the_png_and_404_elsewhere() -> None:
    async def go() -> tuple[bytes, bytes]:
        async with vision.serve_image() as serving:
            assert serving
            ok = await asyncio.to_thread(_get, vision.IMAGE_PATH)
            missing = await asyncio.to_thread(_get, "/conformance/missing.png")
            return ok, missing

    ok, missing = asyncio.run(go())
    assert ok.startswith(b"HTTP/1.1 200")
    assert ok.endswith(vision.solid_png((220, 20, 20)))
    assert missing.startswith(b"HTTP/1.1 404")


def test_a_taken_image_port_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vision, "_BIND_WAIT_S", 0.3)
    with socket.socket() as holder:
        # the image server of an earlier test may have left the port in TIME_WAIT
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", vision.IMAGE_PORT))
        holder.listen()

        async def required() -> None:
            async with vision.serve_image():
                pass

        async def optional() -> bool:
            async with vision.serve_image(required=False) as serving:
                return serving

        with pytest.raises(Verdict) as caught:
            asyncio.run(required())
        assert caught.value.outcome == "error"
        assert str(vision.IMAGE_PORT) in caught.value.message
        assert asyncio.run(optional()) is False


def test_results_never_carry_the_file_a_server_echoes() -> None:
    echoed = "cannot identify image: root:x:0:0:root:/root:/bin/bash"
    assert "root:x:0:0:" not in vision._shown(echoed)
    assert json.dumps(vision.image_body("m", vision.FILE_URL))  # the request is plain JSON
