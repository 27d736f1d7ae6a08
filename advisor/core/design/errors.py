"""A design's problems: where each one is (`namespaces[3].ttl.seconds`, and a YAML line) and what."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

# A place in a design: the keys and list indexes from the top, ("namespaces", 3, "ttl", "seconds").
Loc = tuple[str | int, ...]


class DesignIssue(BaseModel):
    """One problem in a design file: where (`namespaces[3].ttl.seconds`, YAML line) and what."""

    model_config = ConfigDict(frozen=True)

    loc: str
    message: str
    line: int | None = None

    def format(self, filename: str = "<design>") -> str:
        where = filename if self.line is None else f"{filename}:{self.line}"
        return f"{where}: {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class DesignError(ValueError):
    """A design file that cannot be loaded; `errors` lists every problem found."""

    def __init__(self, errors: list[DesignIssue], *, filename: str = "<design>"):
        self.errors = list(errors)
        self.filename = filename
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(issue.format(self.filename) for issue in self.errors)


def format_loc(path: Iterable[str | int]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out
