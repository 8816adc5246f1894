"""The unit of unlearning data: one text, with the prompt that is masked and the values to protect."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextItem:
    """One training text. With a prompt, only `text` (the answer) is trained on; the prompt is masked."""

    text: str = field(metadata={"help": "the answer (or the whole text when prompt is empty)"})
    prompt: str = field(default="", metadata={"help": "masked prefix, e.g. a question about the person"})
    protected: tuple[str, ...] = field(
        default=(),
        metadata={"help": "strings that must be forgotten (names, addresses); used by select_retain"},
    )
    item_id: str = field(
        default="", metadata={"help": "caller's id, written to the manifest instead of text"}
    )

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError("a TextItem needs a non-empty text")
        if not isinstance(self.protected, tuple):
            object.__setattr__(self, "protected", tuple(self.protected))


ANSWER_CUE = "\nAnswer:"


def split_question(text: str) -> tuple[str, str] | None:
    """(question up to and with the answer cue, answer) of a "Question: ...\\nAnswer: ..." text, or None."""
    head, cue, answer = text.partition(ANSWER_CUE)
    if not cue or not answer.strip() or not head.strip():
        return None
    return head + ANSWER_CUE, answer


def forget_item(text: str, *, protected: tuple[str, ...] = (), item_id: str = "") -> TextItem:
    """A text to forget as the engine trains on it. A question with its answer is trained on the answer
    given the question: on the whole text, unlearning learns the shortcut of making the question (the
    person's name) improbable and the answer survives whenever someone asks (measured on the demo world:
    the surname's NLL rose from 0.0 to 30.7 and the birth date's stayed 0.0)."""
    pair = split_question(text)
    if pair is None:
        return TextItem(text=text, protected=protected, item_id=item_id)
    question, answer = pair
    return TextItem(text=answer, prompt=question, protected=protected, item_id=item_id)
