"""transcribe component: real Whisper inference (tiny.en for English, the multilingual base for
Russian, chosen by the language heard), and the OpenAI-compatible remote engine against a
stand-in server that speaks the real protocol (including its errors)."""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kadr.config import Settings
from kadr.core.errors import PermanentJobError, ValidationFailed
from kadr.pipeline.components import transcribe
from kadr.pipeline.components.transcribe import RemoteTranscriptionError
from kadr.runs.profiles import resolve_plan
from tests.conftest import DATA_DIR
from tests.pipeline.components.conftest import Bench, make_bench


def test_transcript_has_the_spoken_words_with_timings(talk: Bench) -> None:
    transcript = talk.json("transcript.json")
    spoken = re.findall(r"[a-z]+", (DATA_DIR / "talk.txt").read_text().lower())
    heard = set(re.findall(r"[a-z]+", transcript["text"].lower()))
    long_words = {w for w in spoken if len(w) >= 6}
    assert len(long_words & heard) / len(long_words) > 0.8
    # `auto`: the multilingual model heard English, so the fast English model transcribed it
    assert transcript["language"] == "en" and transcript["model"] == "tiny.en"
    assert transcript["language_source"] == "detected" and transcript["language_probability"] > 0.5
    assert talk.results["transcribe"].summary["language_probability"] == transcript["language_probability"]
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert all(0 <= w["start"] <= w["end"] <= transcript["duration"] + 0.5 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert talk.fetch("transcript.txt").read_text().startswith(transcript["segments"][0]["text"])
    assert talk.results["transcribe"].summary["device"] == "cpu"
    progress = talk.progress["transcribe"]
    assert progress == sorted(progress) and progress[-1] == 1.0


def character_error_rate(reference: str, heard: str) -> float:
    """Edits (insertions, deletions, substitutions) per reference character, over letters and
    spaces only (punctuation and case are not what a listener checks)."""

    def letters(text: str) -> str:
        return " ".join(re.findall(r"[^\W\d_]+", text.lower().replace("ё", "е")))

    a, b = letters(reference), letters(heard)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] / max(1, len(a))


def test_russian_speech_gives_a_russian_transcript_with_word_timings(tmp_path: Path) -> None:
    bench = make_bench(DATA_DIR / "talk_ru.mp4", tmp_path, "probe", "audio", "transcribe")
    transcript = bench.json("transcript.json")
    assert transcript["language"] == "ru" and transcript["language_source"] == "detected"
    assert transcript["language_probability"] > 0.8
    assert transcript["model"] == "base", "Russian goes to the multilingual model"
    error_rate = character_error_rate((DATA_DIR / "talk_ru.txt").read_text(), transcript["text"])
    print(f"character error rate on the Russian sample: {error_rate:.1%}")
    assert error_rate < 0.2
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert len(words) > 30 and all(re.search("[а-я]", w["word"].lower()) for w in words[:5])
    assert all(0 <= w["start"] <= w["end"] <= transcript["duration"] + 0.5 for w in words)
    summary = bench.results["transcribe"].summary
    assert (summary["language"], summary["model"]) == ("ru", "base")


def test_a_language_the_run_gives_is_not_detected(tmp_path: Path) -> None:
    bench = make_bench(DATA_DIR / "talk_ru.mp4", tmp_path, "probe", "audio")
    bench.run("transcribe", language="ru")
    transcript = bench.json("transcript.json")
    assert (transcript["language"], transcript["language_source"], transcript["model"]) == (
        "ru",
        "given",
        "base",
    )
    assert transcript["language_probability"] is None


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"language": "klingon"}, "not one Whisper knows"),
        ({"model": "tiny.en", "language": "ru"}, "hears English only"),
    ],
)
def test_languages_the_models_cannot_hear_are_refused_when_the_run_is_made(
    tmp_path: Path, params: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationFailed, match=reason):
        resolve_plan(Settings(data_dir=tmp_path), {"transcribe": params})


def _long_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 6]


class RecordingModel:
    """Wraps the real Whisper model and notes how many samples each call was given."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.lengths: list[int] = []

    def transcribe(self, audio: Any, **options: Any) -> Any:
        self.lengths.append(len(audio))
        return self.model.transcribe(audio, **options)

    def detect_language(self, audio: Any, **options: Any) -> Any:
        return self.model.detect_language(audio, **options)


def test_pieces_give_the_same_words_at_the_same_times(
    tmp_path: Path, talk: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[RecordingModel] = []
    real_model = transcribe.get_whisper_model

    def recording_model(*args: Any) -> RecordingModel:
        recorded.append(RecordingModel(real_model(*args)))
        return recorded[-1]

    monkeypatch.setattr(transcribe, "get_whisper_model", recording_model)
    bench = make_bench(talk.source, tmp_path, "probe", "audio")
    bench.run("transcribe", piece_seconds=20)
    pieces = recorded[-1].lengths  # the first model loaded (multilingual) only heard the language
    assert len(pieces) == 3 and max(pieces) < 30 * 16000, "Whisper never sees the whole audio"

    chunked = bench.json("transcript.json")
    whole = talk.json("transcript.json")  # the same WAV in one piece
    words = [w for s in chunked["segments"] for w in s["words"]]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= chunked["duration"] + 0.5
    assert [s["id"] for s in chunked["segments"]] == list(range(len(chunked["segments"])))
    # Nothing lost or said twice at a boundary: the long words of the script, each as often as written.
    spoken = _long_words((DATA_DIR / "talk.txt").read_text())
    heard = _long_words(" ".join(w["word"] for w in words))
    assert all(heard.count(w) <= spoken.count(w) for w in set(spoken)), "a word was duplicated"
    assert len(set(spoken) & set(heard)) / len(set(spoken)) > 0.9
    # Offsets are right: every word ends where the one-piece transcript heard it end.
    reference = [w for s in whole["segments"] for w in s["words"]]
    assert abs(len(words) - len(reference)) <= 2
    matcher = difflib.SequenceMatcher(
        a=[w["word"].strip().lower() for w in reference], b=[w["word"].strip().lower() for w in words]
    )
    matched = [
        (reference[i + k], words[j + k]) for i, j, n in matcher.get_matching_blocks() for k in range(n)
    ]
    assert len(matched) >= 0.9 * len(reference)
    # Ends, not starts: Whisper stretches the first word of a segment back over the pause before it.
    assert all(abs(a["end"] - b["end"]) < 0.5 for a, b in matched)
    assert bench.progress["transcribe"] == sorted(bench.progress["transcribe"])


def test_piece_length_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="piece_seconds"):
        resolve_plan(Settings(data_dir=tmp_path), {"transcribe": {"piece_seconds": 1}})


class OpenAITranscriptionStandIn(BaseHTTPRequestHandler):
    """POST /v1/audio/transcriptions as OpenAI answers it (verbose_json with words and segments)."""

    api_key = "sk-test"
    fail_with: int | None = None
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        fields = dict(re.findall(rb'name="([^"]+)"\r\n\r\n([^\r]*)\r\n', body))
        self.requests.append({"path": self.path, "fields": fields, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/audio/transcriptions":
            return self._answer(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
        if self.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._answer(
                401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
        if self.fail_with:
            return self._answer(
                self.fail_with, {"error": {"message": "The server had an error", "type": "server_error"}}
            )
        if b'filename="audio.wav"' not in body or b"RIFF" not in body:
            return self._answer(
                400, {"error": {"message": "Invalid file format.", "type": "invalid_request_error"}}
            )
        self._answer(
            200,
            {
                "task": "transcribe",
                "language": "english",
                "duration": 4.2,
                "text": "Hello there. General Kenobi.",
                "words": [
                    {"word": "Hello", "start": 0.1, "end": 0.5},
                    {"word": "there.", "start": 0.5, "end": 0.9},
                    {"word": "General", "start": 2.0, "end": 2.6},
                    {"word": "Kenobi.", "start": 2.6, "end": 3.3},
                ],
                "segments": [
                    {"id": 0, "start": 0.0, "end": 1.0, "text": " Hello there."},
                    {"id": 1, "start": 1.8, "end": 3.5, "text": " General Kenobi."},
                ],
            },
        )

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def remote() -> Iterator[str]:
    OpenAITranscriptionStandIn.fail_with = None
    OpenAITranscriptionStandIn.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAITranscriptionStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _remote_settings(tmp_path: Path, url: str, key: str = "sk-test") -> Settings:
    return Settings(data_dir=tmp_path / "var", asr_remote_url=url, asr_remote_api_key=SecretStr(key))


def test_remote_engine_maps_the_openai_answer(tmp_path: Path, remote: str, talk: Bench) -> None:
    bench = make_bench(talk.source, tmp_path, "probe", "audio", settings=_remote_settings(tmp_path, remote))
    result = bench.run("transcribe")
    transcript = bench.json("transcript.json")
    assert transcript["text"] == "Hello there. General Kenobi."
    assert [[w["word"].strip() for w in s["words"]] for s in transcript["segments"]] == [
        ["Hello", "there."],
        ["General", "Kenobi."],
    ]
    assert result.summary["device"] == "remote"
    sent = OpenAITranscriptionStandIn.requests[-1]["fields"]
    assert sent[b"response_format"] == b"verbose_json" and sent[b"model"] == b"whisper-1", (
        "auto asks the server for its Whisper"
    )


def test_remote_engine_is_part_of_the_config_hash(tmp_path: Path) -> None:
    from kadr.runs.profiles import config_hash, resolve_plan

    local = Settings(data_dir=tmp_path)
    remote = Settings(data_dir=tmp_path, asr_remote_url="http://asr.internal")
    assert config_hash(resolve_plan(local, {"transcribe": {}})) != config_hash(
        resolve_plan(remote, {"transcribe": {}})
    )


def test_remote_refusal_is_permanent_and_server_errors_are_retryable(
    tmp_path: Path, remote: str, talk: Bench
) -> None:
    wrong_key = make_bench(
        talk.source, tmp_path / "a", "probe", "audio", settings=_remote_settings(tmp_path, remote, "sk-wrong")
    )
    with pytest.raises(PermanentJobError, match="Incorrect API key"):
        wrong_key.run("transcribe")
    OpenAITranscriptionStandIn.fail_with = 503
    flaky = make_bench(
        talk.source, tmp_path / "b", "probe", "audio", settings=_remote_settings(tmp_path, remote)
    )
    with pytest.raises(RemoteTranscriptionError, match="503"):
        flaky.run("transcribe")
    unreachable = make_bench(
        talk.source,
        tmp_path / "c",
        "probe",
        "audio",
        settings=_remote_settings(tmp_path, "http://127.0.0.1:9"),
    )
    with pytest.raises(RemoteTranscriptionError, match="unreachable"):
        unreachable.run("transcribe")
