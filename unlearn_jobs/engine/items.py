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
